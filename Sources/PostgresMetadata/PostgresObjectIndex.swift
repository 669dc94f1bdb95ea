import Foundation
import Logging
import PostgresNIO
import Storage

/// The ``ObjectIndex`` in PostgreSQL, shared by several gateway instances: the port of
/// `SQLiteObjectIndex` (same tables, keys as `BYTEA`, same errors). One transaction per call.
///
/// Concurrency (SQLite has one writer at a time; here several instances write at once):
/// - Write transactions run at `READ COMMITTED` and take row locks, so they never fail with a
///   serialization error and need no retry loop. A precondition is checked on the object's row
///   locked `FOR UPDATE`; a row that does not exist yet is created with `INSERT … ON CONFLICT DO
///   NOTHING` on the primary key and looked up again when another instance won the race (see
///   ``PostgresObjectIndexRows/replace(_:with:precondition:_:)``). Parts of uploads work the same
///   way. Locks are always taken in the order bucket, upload, object or part row.
/// - A write that adds rows to a bucket locks the bucket row `FOR KEY SHARE`; deleting a bucket
///   locks it `FOR UPDATE` before checking that it is empty.
/// - A part upload locks its upload `FOR KEY SHARE`, a completion or abort `FOR UPDATE`: a part
///   either is seen by the completion (used or freed) or finds the upload gone.
/// - Read transactions run at `REPEATABLE READ, READ ONLY`: an object and its parts, or a whole
///   ``ListingMachine`` page, come from one snapshot.
public struct PostgresObjectIndex: ObjectIndex {
    /// The shared database.
    public let database: PostgresDatabase
    var logger: Logger { database.logger }

    /// Opens the index on `database`, creating or upgrading its tables (migrations `storage-*`).
    /// - Important: `database.run()` must be running.
    /// - Throws: PostgreSQL errors when a migration fails.
    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(PostgresObjectIndexSchema.migrations)
    }

    typealias Rows = PostgresObjectIndexRows

    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    public func createBucket(_ name: String, creationDate: Date) async throws {
        try await write { connection in
            // The primary key decides between instances creating the same bucket at once.
            let rows = try await connection.query("""
                INSERT INTO buckets (name, created_ms) VALUES (\(name), \(StorageClock.milliseconds(of: creationDate)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger).collect()
            if rows.isEmpty { throw StorageError(.bucketAlreadyExists, name) }
        }
    }

    /// Deletes a bucket without objects or uploads.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``.
    public func deleteBucket(_ name: String) async throws {
        try await write { connection in
            // FOR UPDATE waits for the writes adding rows to the bucket (they hold FOR KEY SHARE),
            // so the check below, a new statement, sees their rows.
            try await Rows.requireBucket(connection, name, lock: .update, logger)
            let rows = try await connection.query("""
                SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = \(name)) OR EXISTS (SELECT 1 FROM uploads WHERE bucket = \(name))
                """, logger: logger).collect()
            if try rows.first?.decode(Bool.self) ?? false { throw StorageError(.bucketNotEmpty, name) }
            try await connection.query("DELETE FROM buckets WHERE name = \(name)", logger: logger)
        }
    }

    /// The bucket, or nil.
    /// - Throws: ``StorageError/Code/internalError``.
    public func bucket(_ name: String) async throws -> BucketInfo? {
        try await read { connection in
            try await connection.query("SELECT name, created_ms FROM buckets WHERE name = \(name)", logger: logger)
                .collect().first.map(Rows.bucketInfo)
        }
    }

    /// All buckets by name (bytes: the column is `COLLATE "C"`).
    /// - Throws: ``StorageError/Code/internalError``.
    public func listBuckets() async throws -> [BucketInfo] {
        try await read { connection in
            try await connection.query("SELECT name, created_ms FROM buckets ORDER BY name", logger: logger)
                .collect().map(Rows.bucketInfo)
        }
    }

    // MARK: Objects

    /// The current record of a key, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func object(bucket: String, key: String) async throws -> ObjectRecord? {
        try await read { connection in
            try await Rows.requireBucket(connection, bucket, lock: .none, logger)
            return try await Rows.record(connection, bucket: bucket, key: key, lock: .none, logger)
        }
    }

    /// Commits `record` if `precondition` holds, in one transaction.
    /// - Returns: the replaced version's blobs.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``.
    public func commitObject(_ record: ObjectRecord, precondition: WritePrecondition) async throws -> [BlobID] {
        try await write { connection in
            try await Rows.requireBucket(connection, record.info.bucket, lock: .keyShare, logger)
            return try await Rows.replace(connection, with: record, precondition: precondition, logger)
        }
    }

    /// Removes the current version of a key, if `precondition` holds against it (checked on the
    /// row locked `FOR UPDATE`).
    /// - Returns: the removed record, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectRecord? {
        try await write { connection in
            try await Rows.requireBucket(connection, bucket, lock: .none, logger)
            let record = try await Rows.record(connection, bucket: bucket, key: key, lock: .update, logger)
            if precondition != .none { try precondition.check(currentETag: record?.info.etag, key: key) }
            guard let record else { return nil }
            _ = try await Rows.deleteObject(connection, bucket: bucket, key: key, logger)
            return record
        }
    }

    /// One page of keys, in byte order, from one snapshot.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listObjects(bucket: String, query: ListQuery) async throws -> ListPage {
        try await read { connection in
            try await Rows.requireBucket(connection, bucket, lock: .none, logger)
            var machine = ListingMachine(query: query)
            while let window = machine.nextWindow {
                machine.consume(try await Rows.objects(connection, bucket: bucket, window: window, logger))
            }
            return machine.page
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
            let batch = ids[start..<min(start + 1000, ids.count)].map(\.rawValue)
            start += batch.count
            let referenced = try await read { connection in
                try await connection.query("""
                    SELECT blob FROM object_parts WHERE blob = ANY(\(batch)) AND data IS NULL
                    UNION SELECT blob FROM upload_parts WHERE blob = ANY(\(batch))
                    """, logger: logger).collect().map { try $0.decode(String.self) }
            }
            for text in referenced {
                if let id = BlobID(text) { found.insert(id) }
            }
        }
        return found
    }

    // MARK: Transactions

    /// Runs `body` in a `REPEATABLE READ, READ ONLY` transaction (one snapshot), turning database
    /// errors into ``StorageError``s.
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await write { connection in
            // Must be the transaction's first statement.
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            return try await body(connection)
        }
    }

    /// Runs `body` in a `READ COMMITTED` transaction, turning database errors into
    /// ``StorageError``s.
    func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await database.client.withTransaction(logger: logger) { connection in
                try await body(connection)
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    /// `StorageError`s and cancellations as they are (`withTransaction` wraps what its closure
    /// throws in a `PostgresTransactionError`), anything else as an internal error.
    static func storageError(_ error: any Error) -> any Error {
        switch error {
        case is StorageError, is CancellationError:
            return error
        case let transaction as PostgresTransactionError:
            if let inner = transaction.closureError, inner is StorageError || inner is CancellationError { return inner }
            let cause = transaction.closureError ?? transaction.commitError ?? transaction.beginError
            return StorageError(.internalError, "postgres: \(cause.map { String(reflecting: $0) } ?? "transaction failed")")
        default:
            return StorageError(.internalError, "postgres: \(String(reflecting: error))")
        }
    }
}
