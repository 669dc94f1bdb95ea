import Foundation
import GRDB
import Storage

/// SQL statements and row conversions of ``SQLiteObjectIndex``; every function runs inside the
/// caller's transaction.
enum ObjectIndexRows {
    static let objectColumns = """
        key, size, etag, last_modified_ms, attributes, checksum_algorithm, checksum_value, \
        is_multipart, derived_from_etag
        """
    static let uploadColumns = "upload_id, key, initiated_ms, attributes, checksum_algorithm"

    // MARK: Buckets

    static func requireBucket(_ db: Database, _ name: String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM buckets WHERE name = ?", arguments: [name]) != nil
        else { throw StorageError(.noSuchBucket, name) }
    }

    // MARK: Objects

    /// The record of `key`, with its parts.
    static func record(_ db: Database, bucket: String, key: String) throws -> ObjectRecord? {
        let keyData = Data(key.utf8)
        let statement = try db.cachedStatement(sql: "SELECT \(objectColumns) FROM objects WHERE bucket = ? AND key = ?")
        guard let row = try Row.fetchOne(statement, arguments: [bucket, keyData]) else { return nil }
        let partRows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT number, size, etag, checksum_algorithm, checksum_value, blob
                FROM object_parts WHERE bucket = ? AND key = ? ORDER BY seq
                """),
            arguments: [bucket, keyData]
        )
        let parts = try partRows.map(partRecord)
        var info = try objectInfo(bucket: bucket, row: row)
        info.parts = parts.map(\.part)
        return ObjectRecord(info: info, blobs: parts.map(\.blob))
    }

    /// An object row as listed: without its parts.
    static func objectInfo(bucket: String, row: Row) throws -> ObjectInfo {
        let keyData: Data = row["key"]
        let derived: String? = row["derived_from_etag"]
        return ObjectInfo(
            bucket: bucket, key: String(decoding: keyData, as: UTF8.self), size: row["size"],
            etag: row["etag"], lastModified: StorageClock.date(milliseconds: row["last_modified_ms"]),
            attributes: try IndexText.decodeAttributes(row["attributes"]), checksum: checksum(row),
            parts: [], isMultipart: row["is_multipart"], origin: derived.map { .derived(sourceETag: $0) } ?? .client
        )
    }

    /// Writes `record` as the current version of its key; the key must have no rows.
    static func insert(_ db: Database, _ record: ObjectRecord) throws {
        let info = record.info
        let keyData = Data(info.key.utf8)
        let derived: String? = if case .derived(let etag) = info.origin { etag } else { nil }
        try db.cachedStatement(sql: """
            INSERT INTO objects (bucket, \(objectColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                info.bucket, keyData, info.size, info.etag, StorageClock.milliseconds(of: info.lastModified),
                try IndexText.encodeAttributes(info.attributes), info.checksum?.algorithm, info.checksum?.value,
                info.isMultipart, derived,
            ])
        let insertPart = try db.cachedStatement(sql: """
            INSERT INTO object_parts (bucket, key, seq, number, size, etag, checksum_algorithm, checksum_value, blob)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (seq, (part, blob)) in zip(info.parts, record.blobs).enumerated() {
            try insertPart.execute(arguments: [
                info.bucket, keyData, seq, part.number, part.size, part.etag, part.checksum?.algorithm,
                part.checksum?.value, blob.rawValue,
            ])
        }
    }

    /// Deletes the rows of `key`.
    /// - Returns: the blobs they referenced.
    static func deleteObject(_ db: Database, bucket: String, key: String) throws -> [BlobID] {
        let keyData = Data(key.utf8)
        let blobs = try String.fetchAll(
            db.cachedStatement(sql: "SELECT blob FROM object_parts WHERE bucket = ? AND key = ? ORDER BY seq"),
            arguments: [bucket, keyData]
        ).map(IndexText.blobID)
        try db.cachedStatement(sql: "DELETE FROM object_parts WHERE bucket = ? AND key = ?")
            .execute(arguments: [bucket, keyData])
        try db.cachedStatement(sql: "DELETE FROM objects WHERE bucket = ? AND key = ?")
            .execute(arguments: [bucket, keyData])
        return blobs
    }

    /// Checks `precondition` against the current version, then replaces it with `record`.
    /// - Returns: the replaced version's blobs.
    static func replace(_ db: Database, with record: ObjectRecord, precondition: WritePrecondition) throws -> [BlobID] {
        let current = try String.fetchOne(
            db.cachedStatement(sql: "SELECT etag FROM objects WHERE bucket = ? AND key = ?"),
            arguments: [record.info.bucket, Data(record.info.key.utf8)]
        )
        try precondition.check(currentETag: current, key: record.info.key)
        let replaced = current == nil ? [] : try deleteObject(db, bucket: record.info.bucket, key: record.info.key)
        try insert(db, record)
        return replaced
    }

    /// Objects of `bucket` in `window`, in key order.
    static func objects(_ db: Database, bucket: String, window: ListingWindow) throws -> [ObjectInfo] {
        var sql = "SELECT \(objectColumns) FROM objects WHERE bucket = ?"
        var arguments: [(any DatabaseValueConvertible)?] = [bucket]
        switch window.start {
        case .atOrAfter(let key):
            sql += " AND key >= ?"
            arguments.append(Data(key))
        case .after(let key, _):
            sql += " AND key > ?"
            arguments.append(Data(key))
        }
        if let end = window.end {
            sql += " AND key < ?"
            arguments.append(Data(end))
        }
        sql += " ORDER BY key LIMIT ?"
        arguments.append(window.limit)
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
            .map { try objectInfo(bucket: bucket, row: $0) }
    }

    // MARK: Uploads

    static func upload(_ db: Database, bucket: String, key: String, uploadID: String) throws -> UploadInfo? {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(uploadColumns) FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?"),
            arguments: [uploadID, bucket, Data(key.utf8)]
        )
        return try row.map(uploadInfo)
    }

    static func requireUpload(_ db: Database, bucket: String, key: String, uploadID: String) throws -> UploadInfo {
        guard let upload = try upload(db, bucket: bucket, key: key, uploadID: uploadID) else {
            throw StorageError(.noSuchUpload, uploadID)
        }
        return upload
    }

    static func uploadInfo(_ row: Row) throws -> UploadInfo {
        let keyData: Data = row["key"]
        return UploadInfo(
            key: String(decoding: keyData, as: UTF8.self), uploadID: row["upload_id"],
            initiated: StorageClock.date(milliseconds: row["initiated_ms"]),
            attributes: try IndexText.decodeAttributes(row["attributes"]), checksumAlgorithm: row["checksum_algorithm"]
        )
    }

    /// Uploads of `bucket` in `window`, ordered by key then upload id.
    static func uploads(_ db: Database, bucket: String, window: ListingWindow) throws -> [UploadInfo] {
        var sql = "SELECT \(uploadColumns) FROM uploads WHERE bucket = ?"
        var arguments: [(any DatabaseValueConvertible)?] = [bucket]
        switch window.start {
        case .atOrAfter(let key):
            sql += " AND key >= ?"
            arguments.append(Data(key))
        case .after(let key, nil):
            sql += " AND key > ?"
            arguments.append(Data(key))
        case .after(let key, let uploadID?):
            sql += " AND (key, upload_id) > (?, ?)"
            arguments += [Data(key), uploadID]
        }
        if let end = window.end {
            sql += " AND key < ?"
            arguments.append(Data(end))
        }
        sql += " ORDER BY key, upload_id LIMIT ?"
        arguments.append(window.limit)
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
            .map(uploadInfo)
    }

    /// The parts of an upload, by number.
    static func parts(_ db: Database, uploadID: String) throws -> [Int: PartRecord] {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT number, size, etag, checksum_algorithm, checksum_value, blob
                FROM upload_parts WHERE upload_id = ?
                """),
            arguments: [uploadID]
        )
        var parts: [Int: PartRecord] = [:]
        for row in rows {
            let record = try partRecord(row)
            parts[record.part.number] = record
        }
        return parts
    }

    // MARK: Values

    static func partRecord(_ row: Row) throws -> PartRecord {
        PartRecord(
            part: ObjectPart(number: row["number"], size: row["size"], etag: row["etag"], checksum: checksum(row)),
            blob: try IndexText.blobID(row["blob"])
        )
    }

    static func checksum(_ row: Row) -> StoredChecksum? {
        let algorithm: String? = row["checksum_algorithm"]
        let value: String? = row["checksum_value"]
        guard let algorithm, let value else { return nil }
        return StoredChecksum(algorithm: algorithm, value: value)
    }
}
