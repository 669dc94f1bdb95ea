import Foundation
import Logging
import NIOCore
import PostgresNIO
import Storage

/// SQL statements and row conversions of ``PostgresObjectIndex`` (the port of the SQLite
/// index's `ObjectIndexRows`); every function runs inside the caller's transaction.
enum PostgresObjectIndexRows {
    static let objectColumns = """
        key, size, etag, last_modified_ms, attributes, checksum_algorithm, checksum_value, \
        is_multipart, derived_from_etag
        """
    static let partColumns = "number, size, etag, checksum_algorithm, checksum_value, blob"
    static let uploadColumns = "upload_id, key, initiated_ms, attributes, checksum_algorithm"

    /// How many times a write looks at a row again after another instance inserted it between
    /// the look and the insert (each round needs another concurrent insert of the same row, so
    /// this is never reached in practice).
    static let maximumAttempts = 100

    /// The row lock a `SELECT` takes (the statement runs in a `READ COMMITTED` write transaction).
    enum RowLock {
        /// A plain read.
        case none
        /// Keeps the row from being deleted until commit; compatible with other key-share locks.
        case keyShare
        /// Exclusive: the caller will change or delete the row.
        case update

        var clause: String {
            switch self {
            case .none: ""
            case .keyShare: " FOR KEY SHARE"
            case .update: " FOR UPDATE"
            }
        }
    }

    // MARK: Buckets

    /// - Parameter lock: `.keyShare` for writes that add rows to the bucket, so that a concurrent
    ///   ``PostgresObjectIndex/deleteBucket(_:)`` (which locks the bucket `FOR UPDATE`) either
    ///   sees those rows or makes this lookup find no bucket.
    static func requireBucket(_ connection: PostgresConnection, _ name: String, lock: RowLock, _ logger: Logger) async throws {
        let rows = try await connection.query(
            "SELECT 1 FROM buckets WHERE name = \(name)\(unescaped: lock.clause)", logger: logger
        ).collect()
        guard !rows.isEmpty else { throw StorageError(.noSuchBucket, name) }
    }

    static func bucketInfo(_ row: PostgresRow) throws -> BucketInfo {
        let (name, created) = try row.decode((String, Int64).self)
        return BucketInfo(name: name, creationDate: StorageClock.date(milliseconds: created))
    }

    // MARK: Objects

    /// The record of `key`, with its parts.
    static func record(
        _ connection: PostgresConnection, bucket: String, key: String, lock: RowLock, _ logger: Logger
    ) async throws -> ObjectRecord? {
        let keyData = Data(key.utf8)
        let rows = try await connection.query("""
            SELECT \(unescaped: objectColumns) FROM objects WHERE bucket = \(bucket) AND key = \(keyData)\(unescaped: lock.clause)
            """, logger: logger).collect()
        guard let row = rows.first else { return nil }
        var info = try objectInfo(bucket: bucket, row: row)
        var parts: [PartRecord] = []
        var inlineData: ByteBuffer?
        for row in try await connection.query("""
            SELECT \(unescaped: partColumns), data FROM object_parts WHERE bucket = \(bucket) AND key = \(keyData) ORDER BY seq
            """, logger: logger).collect() {
            let (number, size, etag, algorithm, value, blob, data) =
                try row.decode((Int, Int64, String, String?, String?, String, ByteBuffer?).self)
            parts.append(try partRecord((number, size, etag, algorithm, value, blob)))
            if let data { inlineData = data }
        }
        info.parts = parts.map(\.part)
        return ObjectRecord(info: info, blobs: parts.map(\.blob), inlineData: inlineData)
    }

    /// An object row as listed: without its parts.
    static func objectInfo(bucket: String, row: PostgresRow) throws -> ObjectInfo {
        let (keyData, size, etag, modified, attributes, algorithm, value, isMultipart, derived) =
            try row.decode((Data, Int64, String, Int64, String, String?, String?, Bool, String?).self)
        return ObjectInfo(
            bucket: bucket, key: String(decoding: keyData, as: UTF8.self), size: size, etag: etag,
            lastModified: StorageClock.date(milliseconds: modified), attributes: try IndexText.decodeAttributes(attributes),
            checksum: checksum(algorithm, value), parts: [], isMultipart: isMultipart,
            origin: derived.map { .derived(sourceETag: $0) } ?? .client
        )
    }

    /// Writes the `objects` row of `info`.
    /// - Parameter overwrite: replace an existing row (the caller holds its lock); otherwise
    ///   insert only if the key has no row.
    /// - Returns: whether the row was written (false: another transaction inserted the key first).
    static func writeObjectRow(
        _ connection: PostgresConnection, _ info: ObjectInfo, overwrite: Bool, _ logger: Logger
    ) async throws -> Bool {
        let derived: String? = if case .derived(let etag) = info.origin { etag } else { nil }
        let attributes = try IndexText.encodeAttributes(info.attributes)
        let modified = StorageClock.milliseconds(of: info.lastModified)
        let conflict = overwrite
            ? """
              DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag, last_modified_ms = EXCLUDED.last_modified_ms, \
              attributes = EXCLUDED.attributes, checksum_algorithm = EXCLUDED.checksum_algorithm, \
              checksum_value = EXCLUDED.checksum_value, is_multipart = EXCLUDED.is_multipart, \
              derived_from_etag = EXCLUDED.derived_from_etag
              """
            : "DO NOTHING"
        let rows = try await connection.query("""
            INSERT INTO objects (bucket, \(unescaped: objectColumns))
            VALUES (\(info.bucket), \(Data(info.key.utf8)), \(info.size), \(info.etag), \(modified), \(attributes),
                \(info.checksum?.algorithm), \(info.checksum?.value), \(info.isMultipart), \(derived))
            ON CONFLICT (bucket, key) \(unescaped: conflict) RETURNING 1
            """, logger: logger).collect()
        return !rows.isEmpty
    }

    /// Inserts the part rows of `record` in one statement (a multipart object has up to 10,000).
    static func insertParts(_ connection: PostgresConnection, _ record: ObjectRecord, _ logger: Logger) async throws {
        let info = record.info
        if let data = record.inlineData {
            // One part (ObjectRecord's precondition), with its bytes.
            let part = info.parts[0]
            try await connection.query("""
                INSERT INTO object_parts (bucket, key, seq, number, size, etag, checksum_algorithm, checksum_value, blob, data)
                VALUES (\(info.bucket), \(Data(info.key.utf8)), 0, \(part.number), \(part.size), \(part.etag),
                    \(part.checksum?.algorithm), \(part.checksum?.value), \(record.blobs[0].rawValue), \(data))
                """, logger: logger)
            return
        }
        guard !info.parts.isEmpty else { return }
        // Arrays of optionals do not bind, hence a flag per part for the checksum's presence.
        let seqs = Array(0..<info.parts.count)
        let numbers = info.parts.map(\.number)
        let sizes = info.parts.map(\.size)
        let etags = info.parts.map(\.etag)
        let hasChecksum = info.parts.map { $0.checksum != nil }
        let algorithms = info.parts.map { $0.checksum?.algorithm ?? "" }
        let values = info.parts.map { $0.checksum?.value ?? "" }
        let blobs = record.blobs.map(\.rawValue)
        try await connection.query("""
            INSERT INTO object_parts (bucket, key, seq, number, size, etag, checksum_algorithm, checksum_value, blob)
            SELECT \(info.bucket), \(Data(info.key.utf8)), p.seq, p.number, p.size, p.etag,
                CASE WHEN p.has_checksum THEN p.algorithm END, CASE WHEN p.has_checksum THEN p.value END, p.blob
            FROM UNNEST(\(seqs), \(numbers), \(sizes), \(etags), \(hasChecksum), \(algorithms), \(values), \(blobs))
                AS p(seq, number, size, etag, has_checksum, algorithm, value, blob)
            """, logger: logger)
    }

    /// Deletes the part rows of `key`.
    /// - Returns: the blob files they referenced, in part order (not the ids of inline data,
    ///   which have none).
    static func deleteParts(_ connection: PostgresConnection, bucket: String, key: String, _ logger: Logger) async throws -> [BlobID] {
        let rows = try await connection.query("""
            DELETE FROM object_parts WHERE bucket = \(bucket) AND key = \(Data(key.utf8)) RETURNING seq, blob, data IS NULL
            """, logger: logger).collect()
        return try rows.map { try $0.decode((Int64, String, Bool).self) }
            .filter(\.2)
            .sorted { $0.0 < $1.0 }
            .map { try IndexText.blobID($0.1) }
    }

    /// Deletes the rows of `key`.
    /// - Returns: the blobs they referenced.
    static func deleteObject(_ connection: PostgresConnection, bucket: String, key: String, _ logger: Logger) async throws -> [BlobID] {
        let blobs = try await deleteParts(connection, bucket: bucket, key: key, logger)
        try await connection.query(
            "DELETE FROM objects WHERE bucket = \(bucket) AND key = \(Data(key.utf8))", logger: logger)
        return blobs
    }

    /// Checks `precondition` against the current version, then replaces it with `record`.
    ///
    /// Race-free across instances without serialization failures (the transaction is `READ
    /// COMMITTED`, where each statement sees what committed before it):
    /// - an existing row is locked `FOR UPDATE` before the check, so a concurrent writer of the
    ///   key waits for this commit and then checks against the version committed here;
    /// - a missing row cannot be locked, so the insert is `ON CONFLICT DO NOTHING` on the primary
    ///   key: when another transaction inserted the key meanwhile, the insert waits for it and
    ///   writes nothing, and the loop looks again — the next `SELECT … FOR UPDATE` sees (and
    ///   locks) that row, and the precondition is checked against it. Nothing is written before
    ///   the row is ours, so a failed check leaves nothing to undo.
    /// - Returns: the replaced version's blobs.
    static func replace(
        _ connection: PostgresConnection, with record: ObjectRecord, precondition: WritePrecondition, _ logger: Logger
    ) async throws -> [BlobID] {
        let info = record.info
        for _ in 0..<maximumAttempts {
            let rows = try await connection.query("""
                SELECT etag FROM objects WHERE bucket = \(info.bucket) AND key = \(Data(info.key.utf8)) FOR UPDATE
                """, logger: logger).collect()
            let current = try rows.first?.decode(String.self)
            try precondition.check(currentETag: current, key: info.key)
            if current != nil {
                let replaced = try await deleteParts(connection, bucket: info.bucket, key: info.key, logger)
                _ = try await writeObjectRow(connection, info, overwrite: true, logger)
                try await insertParts(connection, record, logger)
                return replaced
            }
            if try await writeObjectRow(connection, info, overwrite: false, logger) {
                try await insertParts(connection, record, logger)
                return []
            }
        }
        throw StorageError(.internalError, "postgres: the row of \(info.key) kept changing under a commit")
    }

    /// Objects of `bucket` in `window`, in key (byte) order.
    static func objects(
        _ connection: PostgresConnection, bucket: String, window: ListingWindow, _ logger: Logger
    ) async throws -> [ObjectInfo] {
        var query = QueryBuilder("SELECT \(objectColumns) FROM objects WHERE bucket = ")
        try query.bind(bucket)
        switch window.start {
        case .atOrAfter(let key):
            query.sql += " AND key >= "
            try query.bind(Data(key))
        case .after(let key, _):
            query.sql += " AND key > "
            try query.bind(Data(key))
        }
        if let end = window.end {
            query.sql += " AND key < "
            try query.bind(Data(end))
        }
        query.sql += " ORDER BY key LIMIT "
        try query.bind(window.limit)
        return try await connection.query(query.query, logger: logger).collect()
            .map { try objectInfo(bucket: bucket, row: $0) }
    }

    // MARK: Uploads

    /// The upload if it belongs to `bucket` and `key`.
    /// - Parameter lock: `.keyShare` while adding a part (a completion or abort waits, then sees
    ///   the part); `.update` to end the upload (a concurrent part upload then finds none).
    static func upload(
        _ connection: PostgresConnection, bucket: String, key: String, uploadID: String, lock: RowLock, _ logger: Logger
    ) async throws -> UploadInfo? {
        let rows = try await connection.query("""
            SELECT \(unescaped: uploadColumns) FROM uploads
            WHERE upload_id = \(uploadID) AND bucket = \(bucket) AND key = \(Data(key.utf8))\(unescaped: lock.clause)
            """, logger: logger).collect()
        return try rows.first.map(uploadInfo)
    }

    static func requireUpload(
        _ connection: PostgresConnection, bucket: String, key: String, uploadID: String, lock: RowLock, _ logger: Logger
    ) async throws -> UploadInfo {
        guard let upload = try await upload(connection, bucket: bucket, key: key, uploadID: uploadID, lock: lock, logger) else {
            throw StorageError(.noSuchUpload, uploadID)
        }
        return upload
    }

    static func uploadInfo(_ row: PostgresRow) throws -> UploadInfo {
        let (uploadID, keyData, initiated, attributes, algorithm) = try row.decode((String, Data, Int64, String, String?).self)
        return UploadInfo(
            key: String(decoding: keyData, as: UTF8.self), uploadID: uploadID,
            initiated: StorageClock.date(milliseconds: initiated), attributes: try IndexText.decodeAttributes(attributes),
            checksumAlgorithm: algorithm
        )
    }

    /// Uploads of `bucket` in `window`, ordered by key then upload id.
    static func uploads(
        _ connection: PostgresConnection, bucket: String, window: ListingWindow, _ logger: Logger
    ) async throws -> [UploadInfo] {
        var query = QueryBuilder("SELECT \(uploadColumns) FROM uploads WHERE bucket = ")
        try query.bind(bucket)
        switch window.start {
        case .atOrAfter(let key):
            query.sql += " AND key >= "
            try query.bind(Data(key))
        case .after(let key, nil):
            query.sql += " AND key > "
            try query.bind(Data(key))
        case .after(let key, let uploadID?):
            // upload_id is COLLATE "C": the row comparison orders ids by bytes.
            query.sql += " AND (key, upload_id) > ("
            try query.bind(Data(key))
            query.sql += ", "
            try query.bind(uploadID)
            query.sql += ")"
        }
        if let end = window.end {
            query.sql += " AND key < "
            try query.bind(Data(end))
        }
        query.sql += " ORDER BY key, upload_id LIMIT "
        try query.bind(window.limit)
        return try await connection.query(query.query, logger: logger).collect().map(uploadInfo)
    }

    /// The parts of an upload, by number.
    static func parts(_ connection: PostgresConnection, uploadID: String, _ logger: Logger) async throws -> [Int: PartRecord] {
        let rows = try await connection.query(
            "SELECT \(unescaped: partColumns) FROM upload_parts WHERE upload_id = \(uploadID)", logger: logger
        ).collect()
        var parts: [Int: PartRecord] = [:]
        for row in rows {
            let record = try partRecord(row)
            parts[record.part.number] = record
        }
        return parts
    }

    /// Deletes an upload and its parts.
    static func deleteUpload(_ connection: PostgresConnection, uploadID: String, _ logger: Logger) async throws {
        try await connection.query("DELETE FROM upload_parts WHERE upload_id = \(uploadID)", logger: logger)
        try await connection.query("DELETE FROM uploads WHERE upload_id = \(uploadID)", logger: logger)
    }

    // MARK: Values

    /// A row of ``partColumns``.
    static func partRecord(_ row: PostgresRow) throws -> PartRecord {
        try partRecord(row.decode((Int, Int64, String, String?, String?, String).self))
    }

    /// A part from the decoded columns of ``partColumns``.
    private static func partRecord(
        _ columns: (number: Int, size: Int64, etag: String, algorithm: String?, value: String?, blob: String)
    ) throws -> PartRecord {
        let (number, size, etag, algorithm, value, blob) = columns
        return PartRecord(
            part: ObjectPart(number: number, size: size, etag: etag, checksum: checksum(algorithm, value)),
            blob: try IndexText.blobID(blob)
        )
    }

    static func checksum(_ algorithm: String?, _ value: String?) -> StoredChecksum? {
        guard let algorithm, let value else { return nil }
        return StoredChecksum(algorithm: algorithm, value: value)
    }
}

/// A statement whose shape depends on its arguments (the listing windows): SQL text with `$n`
/// placeholders appended as values are bound.
struct QueryBuilder {
    var sql: String
    private(set) var binds = PostgresBindings()

    init(_ sql: String) { self.sql = sql }

    /// Binds `value` and appends its placeholder to the SQL.
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws {
        try binds.append(value)
        sql += "$\(binds.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
