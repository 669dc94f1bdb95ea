import Foundation
import GRDB
import NIOCore
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

    static let bucketExistsSQL = "SELECT 1 FROM buckets WHERE name = ?"

    static func requireBucket(_ db: Database, _ name: String) throws {
        guard try Bool.fetchOne(db.cachedStatement(sql: bucketExistsSQL), arguments: [name]) != nil
        else { throw StorageError(.noSuchBucket, name) }
    }

    // MARK: Objects

    /// The record of a key in one statement (so from one snapshot, even without a transaction):
    /// the object's columns repeated on each of its part rows, in order. Arguments: bucket, key.
    static let recordSQL = recordSelect + " WHERE o.bucket = ? AND o.key = ? ORDER BY p.seq"

    /// ``recordSQL`` for two different keys (arguments: bucket, key, other key), each key's rows
    /// in part order. A `UNION ALL` of two lookups: `o.key IN (?, ?)` made SQLite build an
    /// ephemeral b-tree of the two keys on every call (about fifteen allocations per cached
    /// variant read).
    static let twoRecordsSQL = """
        SELECT * FROM (\(recordSelect) WHERE o.bucket = ?1 AND o.key = ?2 ORDER BY p.seq)
        UNION ALL SELECT * FROM (\(recordSelect) WHERE o.bucket = ?1 AND o.key = ?3 ORDER BY p.seq)
        """

    private static let recordSelect = """
        SELECT o.key, o.size, o.etag, o.last_modified_ms, o.attributes, o.checksum_algorithm, \
        o.checksum_value, o.is_multipart, o.derived_from_etag, \
        p.number, p.size, p.etag, p.checksum_algorithm, p.checksum_value, p.blob, d.data
        FROM objects o LEFT JOIN object_parts p ON p.bucket = o.bucket AND p.key = o.key
        LEFT JOIN object_data d ON d.id = p.data_id
        """

    /// The record of `key`, inside the caller's transaction.
    static func record(_ db: Database, bucket: String, key: String) throws -> ObjectRecord? {
        var record = RecordRows(bucket: bucket)
        let rows = try Row.fetchCursor(db.cachedStatement(sql: recordSQL), arguments: [bucket, Data(key.utf8)])
        while let row = try rows.next() { try record.add(row) }
        return record.record
    }

    /// The record of `key`, from one statement on a point-read connection.
    static func record(_ reader: SQLitePointReader, bucket: String, key: String) throws -> ObjectRecord? {
        var record = RecordRows(bucket: bucket)
        try reader.query(recordSQL, [.text(bucket), .blob(Data(key.utf8))]) { try record.add($0) }
        return record.record
    }

    /// The records of two keys, from one statement on a point-read connection.
    static func records(_ reader: SQLitePointReader, bucket: String, _ first: String, _ second: String) throws -> (ObjectRecord?, ObjectRecord?) {
        guard first != second else {
            let record = try record(reader, bucket: bucket, key: first)
            return (record, record)
        }
        var a = RecordRows(bucket: bucket)
        var b = RecordRows(bucket: bucket)
        try reader.query(twoRecordsSQL, [.text(bucket), .blob(Data(first.utf8)), .blob(Data(second.utf8))]) { row in
            if row.withBytes(0, { $0.elementsEqual(first.utf8) }) { try a.add(row) } else { try b.add(row) }
        }
        return (a.record, b.record)
    }

    /// Assembles a record from the rows of ``recordSQL``.
    struct RecordRows {
        let bucket: String
        var info: ObjectInfo?
        var blobs: [BlobID] = []
        var inlineData: ByteBuffer?

        init(bucket: String) { self.bucket = bucket }

        mutating func add(_ row: some ResultColumns) throws {
            if info == nil { info = try objectInfo(bucket: bucket, row: row) }
            // An object without part rows comes back as one row of NULL part columns.
            guard !row.isNull(14) else { return }
            let part = try partRecord(row, from: 9)
            info?.parts.append(part.part)
            blobs.append(part.blob)
            if !row.isNull(15) { inlineData = row.buffer(15) }
        }

        var record: ObjectRecord? { info.map { ObjectRecord(info: $0, blobs: blobs, inlineData: inlineData) } }
    }

    /// An object row as listed: without its parts. Columns by position, in the order of
    /// ``objectColumns``.
    static func objectInfo(bucket: String, row: some ResultColumns) throws -> ObjectInfo {
        var attributes = LastAttributes()
        return try objectInfo(bucket: bucket, row: row, attributes: &attributes)
    }

    /// ``objectInfo(bucket:row:)`` for one row of many, with the attributes of the previous
    /// row at hand (rows of a listing mostly share one attributes text).
    static func objectInfo(bucket: String, row: some ResultColumns, attributes: inout LastAttributes) throws -> ObjectInfo {
        let derived = row.text(8)
        return ObjectInfo(
            bucket: bucket, key: row.string(0), size: row.integer(1),
            etag: row.text(2) ?? "", lastModified: StorageClock.date(milliseconds: row.integer(3)),
            attributes: try attributes.decode(row, 4), checksum: checksum(row, from: 5),
            parts: [], isMultipart: row.integer(7) != 0, origin: derived.map { .derived(sourceETag: $0) } ?? .client
        )
    }

    /// The attributes text of the last row decoded, and its value: a row with the same bytes
    /// is decoded without making a `String` of them or hashing it.
    struct LastAttributes {
        private var text: [UInt8] = []
        private var value: ObjectAttributes?

        mutating func decode(_ row: some ResultColumns, _ index: Int) throws -> ObjectAttributes {
            if let value, row.withBytes(index, { $0.elementsEqual(text) }) { return value }
            let json = row.isNull(index) ? "{}" : row.string(index)
            let decoded = try IndexText.decodeAttributes(json)
            text = Array(json.utf8)
            value = decoded
            return decoded
        }
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
            INSERT INTO object_parts (bucket, key, seq, number, size, etag, checksum_algorithm, checksum_value, blob, data_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        // A record has inline data only with one part (ObjectRecord's precondition).
        var dataID: Int64?
        if let inline = record.inlineData {
            try db.cachedStatement(sql: "INSERT INTO object_data (data) VALUES (?)")
                .execute(arguments: [Data(inline.readableBytesView)])
            dataID = db.lastInsertedRowID
        }
        for (seq, (part, blob)) in zip(info.parts, record.blobs).enumerated() {
            try insertPart.execute(arguments: [
                info.bucket, keyData, seq, part.number, part.size, part.etag, part.checksum?.algorithm,
                part.checksum?.value, blob.rawValue, dataID,
            ])
        }
    }

    /// Deletes the rows of `key`.
    /// - Returns: the blob files they referenced (not the ids of inline data, which have none).
    static func deleteObject(_ db: Database, bucket: String, key: String) throws -> [BlobID] {
        let keyData = Data(key.utf8)
        let blobs = try String.fetchAll(
            db.cachedStatement(sql: "SELECT blob FROM object_parts WHERE bucket = ? AND key = ? AND data_id IS NULL ORDER BY seq"),
            arguments: [bucket, keyData]
        ).map(IndexText.blobID)
        try db.cachedStatement(sql: """
            DELETE FROM object_data WHERE id IN (SELECT data_id FROM object_parts WHERE bucket = ? AND key = ? AND data_id IS NOT NULL)
            """).execute(arguments: [bucket, keyData])
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

    /// Objects of `bucket` in `window`, in key order, on a point-read connection (inside the
    /// caller's snapshot).
    static func objects(_ connection: SQLitePointReader.Connection, bucket: String, window: ListingWindow) throws -> [ObjectInfo] {
        var sql = "SELECT \(objectColumns) FROM objects WHERE bucket = ?"
        var arguments: [SQLitePointReader.Value] = [.text(bucket)]
        switch window.start {
        case .atOrAfter(let key):
            sql += " AND key >= ?"
            arguments.append(.blob(Data(key)))
        case .after(let key, _):
            sql += " AND key > ?"
            arguments.append(.blob(Data(key)))
        }
        if let end = window.end {
            sql += " AND key < ?"
            arguments.append(.blob(Data(end)))
        }
        sql += " ORDER BY key LIMIT ?"
        arguments.append(.integer(Int64(window.limit)))
        var infos: [ObjectInfo] = []
        infos.reserveCapacity(min(window.limit, 1024))
        var attributes = LastAttributes()
        try connection.query(sql, arguments) { infos.append(try objectInfo(bucket: bucket, row: $0, attributes: &attributes)) }
        return infos
    }

    /// Whether the bucket exists, on a point-read connection.
    static func requireBucket(_ connection: SQLitePointReader.Connection, _ name: String) throws {
        var found = false
        try connection.query(bucketExistsSQL, [.text(name)]) { _ in found = true }
        guard found else { throw StorageError(.noSuchBucket, name) }
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

    /// A part from six columns starting at `first`: number, size, etag, checksum algorithm,
    /// checksum value, blob.
    static func partRecord(_ row: some ResultColumns, from first: Int = 0) throws -> PartRecord {
        PartRecord(
            part: ObjectPart(
                number: Int(row.integer(first)), size: row.integer(first + 1), etag: row.text(first + 2) ?? "",
                checksum: checksum(row, from: first + 3)),
            blob: try IndexText.blobID(row.text(first + 5) ?? "")
        )
    }

    /// A checksum from two columns starting at `first`: algorithm, value.
    static func checksum(_ row: some ResultColumns, from first: Int) -> StoredChecksum? {
        guard let algorithm = row.text(first), let value = row.text(first + 1) else { return nil }
        return StoredChecksum(algorithm: algorithm, value: value)
    }
}
