import Foundation
import GRDB
import Storage

/// The ``ObjectIndex`` in SQLite: one `DatabasePool` transaction per call, keys as `BLOB`s,
/// listings driven by ``ListingMachine`` inside one read transaction (a consistent snapshot).
public struct SQLiteObjectIndex: ObjectIndex, ImmediateObjectIndex, ImmediateObjectCommits {
    /// The shared database.
    public let database: SQLiteDatabase
    private let commits = CommitGroup()
    /// Records read on the request path, kept until the next commit of the database
    /// (bench/PROFILE.md, session 15): up to 8,192 records, 32 MiB of inline bytes.
    let records = CommitScopedCache<RecordAddress, ObjectRecord>(maxEntries: 8192, maxCost: 32 << 20)

    /// Opens the index on `database`, creating or upgrading its tables (migrations `storage-*`).
    /// - Throws: `DatabaseError` when a migration fails.
    public init(database: SQLiteDatabase) throws {
        self.database = database
        try ObjectIndexSchema.migrator.migrate(database.pool)
    }

    /// Opens a database of its own at `path` (see ``SQLiteDatabase/init(path:busyTimeout:)``) and
    /// the index on it. To share the file with other tables, open a ``SQLiteDatabase`` once and
    /// use ``init(database:)``.
    /// - Throws: `DatabaseError` when the file cannot be opened or migrated.
    public init(path: String) throws {
        try self.init(database: SQLiteDatabase(path: path))
    }

    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    public func createBucket(_ name: String, creationDate: Date) async throws {
        try await write { db in
            if try Bool.fetchOne(db, sql: ObjectIndexRows.bucketExistsSQL, arguments: [name]) != nil {
                throw StorageError(.bucketAlreadyExists, name)
            }
            try db.execute(
                sql: "INSERT INTO buckets (name, created_ms) VALUES (?, ?)",
                arguments: [name, StorageClock.milliseconds(of: creationDate)]
            )
        }
    }

    /// Deletes a bucket without objects or uploads.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``.
    public func deleteBucket(_ name: String) async throws {
        try await write { db in
            try ObjectIndexRows.requireBucket(db, name)
            let used = try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1) OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)
                """, arguments: [name]) ?? false
            if used { throw StorageError(.bucketNotEmpty, name) }
            try db.execute(sql: "DELETE FROM buckets WHERE name = ?", arguments: [name])
        }
    }

    /// The bucket, or nil.
    /// - Throws: ``StorageError/Code/internalError``.
    public func bucket(_ name: String) async throws -> BucketInfo? {
        var found: BucketInfo?
        try database.pointReader.query("SELECT name, created_ms FROM buckets WHERE name = ?", [.text(name)]) { row in
            found = BucketInfo(name: row.text(0) ?? name, creationDate: StorageClock.date(milliseconds: row.integer(1)))
        }
        return found
    }

    /// All buckets by name.
    /// - Throws: ``StorageError/Code/internalError``.
    public func listBuckets() async throws -> [BucketInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, created_ms FROM buckets ORDER BY name")
                .map { BucketInfo(name: $0["name"], creationDate: StorageClock.date(milliseconds: $0["created_ms"])) }
        }
    }

    // MARK: Objects

    /// The current record of a key, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func object(bucket: String, key: String) async throws -> ObjectRecord? {
        // One statement (its own snapshot) on the calling thread; the bucket is looked at only
        // when the key is missing (a bucket with objects cannot be deleted).
        if let record = try objectNow(bucket: bucket, key: key) { return record }
        try requireBucket(bucket)
        return nil
    }

    /// The record alone, on the calling thread (``ImmediateObjectIndex``); nil also when the
    /// bucket is missing. From ``records`` when no commit came since it was read there.
    public func objectNow(bucket: String, key: String) throws -> ObjectRecord? {
        try records.value(for: RecordAddress(bucket: bucket, key: key), at: database.pointReader.changeToken(), cost: \.cost) {
            try ObjectIndexRows.record(database.pointReader, bucket: bucket, key: key)
        }
    }

    /// `body` with every point read of this database on the calling thread (objects, and the
    /// policy store's generation when it shares the database) in one read transaction
    /// (``ImmediateObjectIndex``).
    public func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T {
        try database.pointReader.inOneSnapshot(body)
    }

    /// Two records in one statement (one snapshot) on the calling thread
    /// (``ImmediateObjectIndex``); nil for both also when the bucket is missing.
    /// Both from ``records`` when no commit came since they were read there.
    public func objectsNow(bucket: String, _ first: String, _ second: String) throws -> (ObjectRecord?, ObjectRecord?) {
        let token = database.pointReader.changeToken()
        let (a, b) = (RecordAddress(bucket: bucket, key: first), RecordAddress(bucket: bucket, key: second))
        if let both = records.both(a, b, at: token) { return both }
        let read = try ObjectIndexRows.records(database.pointReader, bucket: bucket, first, second)
        records.keep(read.0, for: a, at: token)
        records.keep(read.1, for: b, at: token)
        return read
    }

    /// Two records in one statement (one snapshot) on the calling thread.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func objects(bucket: String, _ first: String, _ second: String) async throws -> (ObjectRecord?, ObjectRecord?) {
        let (a, b) = try objectsNow(bucket: bucket, first, second)
        if a == nil && b == nil { try requireBucket(bucket) }
        return (a, b)
    }

    /// Checks that the bucket exists, on a point-read connection.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    private func requireBucket(_ bucket: String) throws {
        guard try database.pointReader.integer(ObjectIndexRows.bucketExistsSQL, [.text(bucket)]) != nil else {
            throw StorageError(.noSuchBucket, bucket)
        }
    }

    /// Commits `record` if `precondition` holds, in one transaction (shared with other
    /// commits waiting at the same time: ``CommitGroup``).
    /// - Returns: the replaced version's blobs.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``.
    public func commitObject(_ record: ObjectRecord, precondition: WritePrecondition) async throws -> [BlobID] {
        try await commits.commit(record, precondition: precondition, pool: database.pool, mapError: Self.storageError)
    }

    /// The same commit, reported through `done` on the commit group's thread
    /// (``ImmediateObjectCommits``).
    public func commitObject(
        _ record: ObjectRecord, precondition: WritePrecondition, mayRunHere: Bool,
        done: @escaping @Sendable (Result<[BlobID], any Error>) -> Void
    ) {
        commits.enqueue(
            record, precondition: precondition, pool: database.pool, mapError: Self.storageError, mayRunHere: mayRunHere,
            done: done)
    }

    /// Removes the current version of a key.
    /// - Returns: the removed record, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectRecord? {
        try await write { db in
            try ObjectIndexRows.requireBucket(db, bucket)
            let record = try ObjectIndexRows.record(db, bucket: bucket, key: key)
            if precondition != .none { try precondition.check(currentETag: record?.info.etag, key: key) }
            guard let record else { return nil }
            _ = try ObjectIndexRows.deleteObject(db, bucket: bucket, key: key)
            return record
        }
    }

    /// One page of keys, in byte order, from one read transaction on a point-read connection
    /// (``SQLitePointReader/snapshot(_:)``: no GRDB row decoding, measured in LIST profiles).
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listObjects(bucket: String, query: ListQuery) async throws -> ListPage {
        do {
            return try await database.pointReader.snapshot { connection in
                try ObjectIndexRows.requireBucket(connection, bucket)
                var machine = ListingMachine(query: query)
                while let window = machine.nextWindow {
                    machine.consume(try ObjectIndexRows.objects(connection, bucket: bucket, window: window))
                }
                return machine.page
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    // MARK: Recovery

    /// Which of `ids` an object or an upload part references as a blob file (the ids of parts
    /// kept in the index name no file).
    /// - Throws: ``StorageError/Code/internalError``.
    public func referencedBlobs(among ids: [BlobID]) async throws -> Set<BlobID> {
        var found = Set<BlobID>()
        var start = 0
        while start < ids.count {
            let batch = ids[start..<min(start + 400, ids.count)].map(\.rawValue)
            start += batch.count
            let referenced = try await read { db in
                try String.fetchAll(db, sql: Self.referencedBlobsSQL(count: batch.count), arguments: StatementArguments(batch + batch))
            }
            for text in referenced {
                if let id = BlobID(text) { found.insert(id) }
            }
        }
        return found
    }

    /// The blob lookup of ``referencedBlobs(among:)`` for `count` ids (bound twice). Both halves
    /// are index searches; the first only reaches the partial index on object parts because it
    /// repeats that index's condition.
    static func referencedBlobsSQL(count: Int) -> String {
        let marks = Array(repeating: "?", count: count).joined(separator: ",")
        return """
            SELECT blob FROM object_parts WHERE blob IN (\(marks)) AND data_id IS NULL
            UNION SELECT blob FROM upload_parts WHERE blob IN (\(marks))
            """
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction, turning database errors into ``StorageError``s.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.pool.read(body)
        } catch {
            throw Self.storageError(error)
        }
    }

    /// Runs `body` in a write transaction, turning database errors into ``StorageError``s.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.pool.write(body)
        } catch {
            throw Self.storageError(error)
        }
    }

    private static func storageError(_ error: any Error) -> any Error {
        switch error {
        case is StorageError, is CancellationError: error
        default: StorageError(.internalError, "sqlite: \(error)")
        }
    }
}

/// A key of a bucket: where a record is kept in ``SQLiteObjectIndex/records``. Keys are their
/// UTF-8 bytes, as in the index: two keys that Swift's `String` holds equal (one composed, one
/// decomposed) are two keys.
struct RecordAddress: Hashable, Sendable {
    let bucket: String
    let key: String

    static func == (a: Self, b: Self) -> Bool {
        a.bucket.utf8.elementsEqual(b.bucket.utf8) && a.key.utf8.elementsEqual(b.key.utf8)
    }

    func hash(into hasher: inout Hasher) {
        Self.combine(bucket, into: &hasher)
        hasher.combine(0xFF as UInt8)  // never in UTF-8: ends the bucket
        Self.combine(key, into: &hasher)
    }

    private static func combine(_ text: String, into hasher: inout Hasher) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { for byte in text.utf8 { hasher.combine(byte) } }
    }
}

extension ObjectRecord {
    /// What a kept record counts against ``SQLiteObjectIndex/records``' bound: its inline bytes.
    var cost: Int { inlineData?.readableBytes ?? 0 }
}

extension CommitScopedCache where Key == RecordAddress, Value == ObjectRecord {
    /// Both records, when both are kept at `token`.
    func both(_ a: RecordAddress, _ b: RecordAddress, at token: WALChangeToken?) -> (ObjectRecord, ObjectRecord)? {
        guard let token, let first = kept(a, at: token), let second = kept(b, at: token) else { return nil }
        return (first, second)
    }

    /// Keeps `record` (when there is one) at `token` (when there is one).
    func keep(_ record: ObjectRecord?, for address: RecordAddress, at token: WALChangeToken?) {
        guard let record, let token else { return }
        keep(record, cost: record.cost, for: address, at: token)
    }
}
