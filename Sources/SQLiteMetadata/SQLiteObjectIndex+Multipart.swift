import Foundation
import GRDB
import Storage

extension SQLiteObjectIndex {
    /// Records a new upload.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func createUpload(bucket: String, upload: UploadInfo) async throws {
        let attributes = try IndexText.encodeAttributes(upload.attributes)
        try await write { db in
            try ObjectIndexRows.requireBucket(db, bucket)
            try db.execute(sql: """
                INSERT INTO uploads (upload_id, bucket, key, initiated_ms, attributes, checksum_algorithm)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [
                    upload.uploadID, bucket, Data(upload.key.utf8), StorageClock.milliseconds(of: upload.initiated),
                    attributes, upload.checksumAlgorithm,
                ])
        }
    }

    /// The upload if it belongs to `bucket` and `key`.
    /// - Throws: ``StorageError/Code/internalError``.
    public func upload(bucket: String, key: String, uploadID: String) async throws -> UploadInfo? {
        try await read { db in try ObjectIndexRows.upload(db, bucket: bucket, key: key, uploadID: uploadID) }
    }

    /// Records a part, replacing the one with the same number.
    /// - Returns: the replaced part's blob.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func putPart(bucket: String, key: String, uploadID: String, part: PartRecord) async throws -> BlobID? {
        try await write { db in
            _ = try ObjectIndexRows.requireUpload(db, bucket: bucket, key: key, uploadID: uploadID)
            let replaced = try String.fetchOne(
                db, sql: "SELECT blob FROM upload_parts WHERE upload_id = ? AND number = ?",
                arguments: [uploadID, part.part.number]
            )
            try db.execute(sql: """
                INSERT OR REPLACE INTO upload_parts
                    (upload_id, number, size, etag, checksum_algorithm, checksum_value, blob)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    uploadID, part.part.number, part.part.size, part.part.etag, part.part.checksum?.algorithm,
                    part.part.checksum?.value, part.blob.rawValue,
                ])
            return try replaced.map(IndexText.blobID)
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
        try await write { db in
            let upload = try ObjectIndexRows.requireUpload(db, bucket: bucket, key: key, uploadID: uploadID)
            let uploaded = try ObjectIndexRows.parts(db, uploadID: uploadID)
            let chosen = try MultipartCompletion.select(
                requested: parts, uploaded: uploaded, minimumPartSize: options.minimumPartSize, part: \.part
            )
            let info = MultipartCompletion.objectInfo(
                bucket: bucket, upload: upload, parts: chosen.map(\.part), lastModified: options.lastModified
            )
            let record = ObjectRecord(info: info, blobs: chosen.map(\.blob))
            let replaced = try ObjectIndexRows.replace(db, with: record, precondition: options.precondition)
            try deleteUpload(db, uploadID: uploadID)
            let used = Set(record.blobs)
            let unused = uploaded.values.map(\.blob).filter { !used.contains($0) }.sorted()
            return CompletionOutcome(record: record, freedBlobs: replaced + unused)
        }
    }

    /// Ends an upload without an object.
    /// - Returns: its parts' blobs.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func abortUpload(bucket: String, key: String, uploadID: String) async throws -> [BlobID] {
        try await write { db in
            _ = try ObjectIndexRows.requireUpload(db, bucket: bucket, key: key, uploadID: uploadID)
            let blobs = try ObjectIndexRows.parts(db, uploadID: uploadID).values.map(\.blob).sorted()
            try deleteUpload(db, uploadID: uploadID)
            return blobs
        }
    }

    /// Parts after `partNumberMarker`, ascending, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        try await read { db in
            let upload = try ObjectIndexRows.requireUpload(db, bucket: bucket, key: key, uploadID: uploadID)
            let limit = max(0, maxParts)
            let rows = try Row.fetchAll(db, sql: """
                SELECT number, size, etag, checksum_algorithm, checksum_value, blob FROM upload_parts
                WHERE upload_id = ? AND number > ? ORDER BY number LIMIT ?
                """, arguments: [uploadID, partNumberMarker, limit + 1])
            let parts = try rows.prefix(limit).map { try ObjectIndexRows.partRecord($0).part }
            return PartsPage(
                upload: upload, parts: parts, isTruncated: rows.count > limit, nextPartNumberMarker: parts.last?.number
            )
        }
    }

    /// Uploads in progress, by key then upload id, from one read transaction.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage {
        try await read { db in
            try ObjectIndexRows.requireBucket(db, bucket)
            var machine = ListingMachine(query: query)
            while let window = machine.nextWindow {
                machine.consume(try ObjectIndexRows.uploads(db, bucket: bucket, window: window))
            }
            return machine.page
        }
    }

    private func deleteUpload(_ db: Database, uploadID: String) throws {
        try db.execute(sql: "DELETE FROM upload_parts WHERE upload_id = ?", arguments: [uploadID])
        try db.execute(sql: "DELETE FROM uploads WHERE upload_id = ?", arguments: [uploadID])
    }
}
