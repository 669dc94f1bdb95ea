import Foundation
import Logging
import PostgresNIO
import Storage

extension PostgresObjectIndex {
    /// Records a new upload.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func createUpload(bucket: String, upload: UploadInfo) async throws {
        let attributes = try IndexText.encodeAttributes(upload.attributes)
        try await write { connection in
            try await Rows.requireBucket(connection, bucket, lock: .keyShare, logger)
            try await connection.query("""
                INSERT INTO uploads (upload_id, bucket, key, initiated_ms, attributes, checksum_algorithm)
                VALUES (\(upload.uploadID), \(bucket), \(Data(upload.key.utf8)), \(StorageClock.milliseconds(of: upload.initiated)),
                    \(attributes), \(upload.checksumAlgorithm))
                """, logger: logger)
        }
    }

    /// The upload if it belongs to `bucket` and `key`.
    /// - Throws: ``StorageError/Code/internalError``.
    public func upload(bucket: String, key: String, uploadID: String) async throws -> UploadInfo? {
        try await read { connection in
            try await Rows.upload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: .none, logger)
        }
    }

    /// Records a part, replacing the one with the same number.
    ///
    /// Two uploads of one part number at once (from two instances) must not both report the same
    /// replaced blob and leak the other: an existing part row is locked `FOR UPDATE` before it is
    /// read and replaced; a missing one is inserted `ON CONFLICT DO NOTHING` and looked up again
    /// when another transaction inserted it first.
    /// - Returns: the replaced part's blob.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func putPart(bucket: String, key: String, uploadID: String, part: PartRecord) async throws -> BlobID? {
        try await write { connection in
            _ = try await Rows.requireUpload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: .keyShare, logger)
            let number = part.part.number
            for _ in 0..<Rows.maximumAttempts {
                let rows = try await connection.query("""
                    SELECT blob FROM upload_parts WHERE upload_id = \(uploadID) AND number = \(number) FOR UPDATE
                    """, logger: logger).collect()
                if let replaced = try rows.first?.decode(String.self) {
                    try await connection.query("""
                        UPDATE upload_parts SET size = \(part.part.size), etag = \(part.part.etag),
                            checksum_algorithm = \(part.part.checksum?.algorithm), checksum_value = \(part.part.checksum?.value),
                            blob = \(part.blob.rawValue)
                        WHERE upload_id = \(uploadID) AND number = \(number)
                        """, logger: logger)
                    return try IndexText.blobID(replaced)
                }
                let inserted = try await connection.query("""
                    INSERT INTO upload_parts (upload_id, number, size, etag, checksum_algorithm, checksum_value, blob)
                    VALUES (\(uploadID), \(number), \(part.part.size), \(part.part.etag), \(part.part.checksum?.algorithm),
                        \(part.part.checksum?.value), \(part.blob.rawValue))
                    ON CONFLICT (upload_id, number) DO NOTHING RETURNING number
                    """, logger: logger).collect()
                if !inserted.isEmpty { return nil }
            }
            throw StorageError(.internalError, "postgres: part \(number) of \(uploadID) kept changing")
        }
    }

    /// Validates the named parts, checks the precondition and commits the object, in one
    /// transaction; nothing changes on error.
    /// - Returns: the record and every blob no longer referenced.
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart``,
    ///   ``StorageError/Code/invalidPartOrder``, ``StorageError/Code/entityTooSmall``,
    ///   ``StorageError/Code/preconditionFailed``.
    public func completeUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart], options: CompletionOptions
    ) async throws -> CompletionOutcome {
        try await write { connection in
            // FOR UPDATE: part uploads in flight finish first (their parts are seen below), later
            // ones find no upload; a second completion waits and then finds none.
            let upload = try await Rows.requireUpload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: .update, logger)
            let uploaded = try await Rows.parts(connection, uploadID: uploadID, logger)
            let chosen = try MultipartCompletion.select(
                requested: parts, uploaded: uploaded, minimumPartSize: options.minimumPartSize, part: \.part
            )
            let info = MultipartCompletion.objectInfo(
                bucket: bucket, upload: upload, parts: chosen.map(\.part), lastModified: options.lastModified
            )
            let record = ObjectRecord(info: info, blobs: chosen.map(\.blob))
            let replaced = try await Rows.replace(connection, with: record, precondition: options.precondition, logger)
            try await Rows.deleteUpload(connection, uploadID: uploadID, logger)
            let used = Set(record.blobs)
            let unused = uploaded.values.map(\.blob).filter { !used.contains($0) }.sorted()
            return CompletionOutcome(record: record, freedBlobs: replaced + unused)
        }
    }

    /// Ends an upload without an object.
    /// - Returns: its parts' blobs.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func abortUpload(bucket: String, key: String, uploadID: String) async throws -> [BlobID] {
        try await write { connection in
            _ = try await Rows.requireUpload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: .update, logger)
            let blobs = try await Rows.parts(connection, uploadID: uploadID, logger).values.map(\.blob).sorted()
            try await Rows.deleteUpload(connection, uploadID: uploadID, logger)
            return blobs
        }
    }

    /// Parts after `partNumberMarker`, ascending, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        try await read { connection in
            let upload = try await Rows.requireUpload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: .none, logger)
            let limit = max(0, maxParts)
            let rows = try await connection.query("""
                SELECT \(unescaped: Rows.partColumns) FROM upload_parts
                WHERE upload_id = \(uploadID) AND number > \(partNumberMarker) ORDER BY number LIMIT \(limit + 1)
                """, logger: logger).collect()
            let parts = try rows.prefix(limit).map { try Rows.partRecord($0).part }
            return PartsPage(
                upload: upload, parts: parts, isTruncated: rows.count > limit, nextPartNumberMarker: parts.last?.number
            )
        }
    }

    /// Uploads in progress, by key then upload id, from one snapshot.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage {
        try await read { connection in
            try await Rows.requireBucket(connection, bucket, lock: .none, logger)
            var machine = ListingMachine(query: query)
            while let window = machine.nextWindow {
                machine.consume(try await Rows.uploads(connection, bucket: bucket, window: window, logger))
            }
            return machine.page
        }
    }
}
