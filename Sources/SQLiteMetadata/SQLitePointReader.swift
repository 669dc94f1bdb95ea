import Foundation
import GRDB
import GRDBSQLite
import NIOCore
import Storage
import Synchronization

/// Reads of one statement each (an object record, a bucket, the policy generation) on plain
/// SQLite connections of our own, on the calling thread.
///
/// They are most of the metadata work of a GET, and through GRDB each one costs a reader-pool
/// semaphore, a `DispatchQueue.sync`, a `PRAGMA schema_version` and a statement-cache lookup
/// (bench/PROFILE.md). Here a connection is taken from a free list and its prepared statement
/// is bound, stepped and reset. A statement outside a transaction reads one snapshot that
/// includes every commit made before it started, by any process, like a GRDB read.
final class SQLitePointReader: Sendable {
    /// A value bound to a `?` parameter.
    enum Value: Sendable {
        case text(String)
        case blob(Data)
        case integer(Int64)
    }

    private let path: String
    private let idle = Mutex<[Connection]>([])
    /// Idle connections kept; more are opened under load and closed when returned.
    private let keep = 16
    /// The ``inOneSnapshot(_:)`` running on this thread, for this reader only.
    private let current: ThreadSnapshotSlot
    /// The database's WAL index header (nil: none could be opened, and no change tokens are read).
    private let header: WALIndexHeader?

    /// Readers of the database file at `path` (which must exist, in WAL mode, and be open:
    /// its WAL index is opened here).
    init(path: String) {
        self.path = path
        self.current = ThreadSnapshotSlot()
        self.header = WALIndexHeader(databasePath: path)
    }

    deinit {
        idle.withLock { $0.removeAll() }
    }

    /// Runs `body` with every read it makes through this reader on the calling thread in one
    /// read transaction on one connection: one snapshot, and one WAL read lock taken and
    /// released instead of one per statement (the lock goes through a process-wide mutex that
    /// the event loops' reads contend for, and `fcntl`). For a few point reads that belong
    /// together (a GET's key, tenants and object); `body` must not block. Nested calls join
    /// the outer one; when the transaction cannot begin, the reads run one by one as usual.
    ///
    /// The transaction begins at the first statement: reads that a ``CommitScopedCache``
    /// answers take none. The change token is read once, first (``changeToken()``), so every
    /// cached answer in `body` is of the same state, and statements see that state or a later one.
    func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T {
        if !current.isAvailable || current.snapshot != nil { return try body() }
        let snapshot = Snapshot(token: header?.current())
        current.snapshot = snapshot
        defer {
            current.snapshot = nil
            if let connection = snapshot.connection {
                // COMMIT ends a read transaction; a connection that is still in one is dropped.
                try? connection.query("COMMIT", [], row: { _ in })
                giveBack(connection)
            }
        }
        return try body()
    }

    /// The database's change token for reads on the calling thread: inside
    /// ``inOneSnapshot(_:)``, the one read when it began; else the current one. Nil when the
    /// WAL index cannot be read or is being written.
    func changeToken() -> WALChangeToken? {
        if let snapshot = current.snapshot { return snapshot.token }
        return header?.current()
    }

    /// Runs `sql` with `arguments` and calls `row` for each result row, in order.
    /// - Throws: ``StorageError/Code/internalError`` for SQLite errors, or what `row` throws.
    func query(_ sql: String, _ arguments: [Value], row: (Columns) throws -> Void) throws {
        try withConnection { try $0.query(sql, arguments, row: row) }
    }

    /// Runs `body` in one read transaction (one snapshot for all its statements), on a
    /// dispatch thread: for reads of several statements that take milliseconds (listings),
    /// which should not hold the caller's thread.
    /// - Throws: ``StorageError/Code/internalError`` for SQLite errors, or what `body` throws.
    func snapshot<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    // A connection of its own, never one pinned by `inOneSnapshot`: this begins
                    // its own transaction.
                    try self.withPooledConnection { connection in try connection.inReadTransaction { try body(connection) } }
                })
            }
        }
    }

    private func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        if let snapshot = current.snapshot {
            if let connection = snapshot.connection { return try body(connection) }
            // The snapshot's first statement begins its transaction.
            if let connection = try? take() {
                if (try? connection.query("BEGIN DEFERRED", [], row: { _ in })) != nil {
                    snapshot.connection = connection
                    return try body(connection)
                }
                giveBack(connection)
            }
        }
        return try withPooledConnection(body)
    }

    private func withPooledConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try take()
        defer { giveBack(connection) }
        return try body(connection)
    }

    /// An idle connection, or a new one.
    private func take() throws -> Connection {
        try idle.withLock { $0.popLast() } ?? Connection(path: path)
    }

    private func giveBack(_ connection: Connection) {
        // Only a connection outside any transaction goes back: one left in a snapshot would
        // serve stale reads (and hold back checkpoints).
        if connection.leaveTransaction() {
            idle.withLock { free in
                if free.count < keep { free.append(connection) }
            }
        }
    }

    /// The first column of the first row as an integer, or nil without rows.
    /// - Throws: ``StorageError/Code/internalError`` for SQLite errors.
    func integer(_ sql: String, _ arguments: [Value] = []) throws -> Int64? {
        var value: Int64?
        try query(sql, arguments) { columns in
            if value == nil { value = columns.integer(0) }
        }
        return value
    }

    /// The columns of the current result row, valid only inside the `row` callback.
    struct Columns: ResultColumns {
        fileprivate let statement: OpaquePointer

        func isNull(_ index: Int) -> Bool {
            sqlite3_column_type(statement, Int32(index)) == SQLITE_NULL
        }

        func integer(_ index: Int) -> Int64 {
            sqlite3_column_int64(statement, Int32(index))
        }

        func text(_ index: Int) -> String? {
            guard !isNull(index), let bytes = sqlite3_column_text(statement, Int32(index)) else { return nil }
            let count = Int(sqlite3_column_bytes(statement, Int32(index)))
            return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }

        func data(_ index: Int) -> Data {
            let count = Int(sqlite3_column_bytes(statement, Int32(index)))
            guard count > 0, let bytes = sqlite3_column_blob(statement, Int32(index)) else { return Data() }
            return Data(bytes: bytes, count: count)
        }

        func withBytes<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
            // sqlite3_column_blob before sqlite3_column_bytes, as SQLite's documentation asks.
            let bytes = sqlite3_column_blob(statement, Int32(index))
            let count = Int(sqlite3_column_bytes(statement, Int32(index)))
            return try body(UnsafeRawBufferPointer(start: count > 0 ? bytes : nil, count: count))
        }

        func string(_ index: Int) -> String {
            withBytes(index) { String(decoding: $0, as: UTF8.self) }
        }

        func buffer(_ index: Int) -> ByteBuffer {
            let count = Int(sqlite3_column_bytes(statement, Int32(index)))
            guard count > 0, let bytes = sqlite3_column_blob(statement, Int32(index)) else { return ByteBuffer() }
            return ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count))
        }
    }

    /// One connection and its prepared statements; used by one thread at a time.
    final class Connection: @unchecked Sendable {
        private let handle: OpaquePointer
        private var statements: [String: OpaquePointer] = [:]

        init(path: String) throws {
            let handle = try openSQLiteConnection(path: path, for: "reading")
            self.handle = handle
            // Only SELECTs run here; a mistake would fail instead of writing.
            sqlite3_exec(handle, "PRAGMA query_only = 1", nil, nil, nil)
        }

        deinit {
            for statement in statements.values { sqlite3_finalize(statement) }
            sqlite3_close_v2(handle)
        }

        /// Rolls back a transaction left open; false when the connection is still in one (it
        /// is then dropped).
        func leaveTransaction() -> Bool {
            if sqlite3_get_autocommit(handle) != 0 { return true }
            sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            return sqlite3_get_autocommit(handle) != 0
        }

        /// Runs `body` between `BEGIN` and `COMMIT` (`ROLLBACK` when it throws).
        func inReadTransaction<T>(_ body: () throws -> T) throws -> T {
            try query("BEGIN DEFERRED", [], row: { _ in })
            do {
                let value = try body()
                try query("COMMIT", [], row: { _ in })
                return value
            } catch {
                sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
                throw error
            }
        }

        /// Runs `sql` with `arguments` and calls `row` for each result row, in order.
        func query(_ sql: String, _ arguments: [Value], row: (Columns) throws -> Void) throws {
            let statement = try prepared(sql)
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            for (offset, argument) in arguments.enumerated() {
                let index = Int32(offset + 1)
                let status: Int32 = switch argument {
                case .integer(let value): sqlite3_bind_int64(statement, index, value)
                case .text(let value): sqlite3_bind_text(statement, index, value, -1, transient)
                case .blob(let value):
                    value.withUnsafeBytes { bytes in
                        sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
                    }
                }
                guard status == SQLITE_OK else { throw error("binding") }
            }
            while true {
                switch sqlite3_step(statement) {
                case SQLITE_ROW: try row(Columns(statement: statement))
                case SQLITE_DONE: return
                default: throw error("reading")
                }
            }
        }

        private func prepared(_ sql: String) throws -> OpaquePointer {
            if let statement = statements[sql] { return statement }
            var statement: OpaquePointer?
            guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
                  let statement
            else { throw error("preparing") }
            statements[sql] = statement
            return statement
        }

        private func error(_ doing: String) -> StorageError {
            StorageError(.internalError, "sqlite: \(doing): \(String(cString: sqlite3_errmsg(handle)))")
        }
    }
}

/// One ``SQLitePointReader/inOneSnapshot(_:)`` call: the change token read when it began, and
/// the connection in its read transaction once a statement began one.
private final class Snapshot {
    let token: WALChangeToken?
    var connection: SQLitePointReader.Connection?

    init(token: WALChangeToken?) {
        self.token = token
    }
}

/// One snapshot per thread, kept in a POSIX thread-specific slot (not retained: whoever
/// sets it holds the snapshot until it clears it). Without a key (the process ran out of
/// them) nothing can be kept, and reads are simply not pinned.
private final class ThreadSnapshotSlot: Sendable {
    private let key: pthread_key_t?

    init() {
        var key = pthread_key_t()
        self.key = pthread_key_create(&key, nil) == 0 ? key : nil
    }

    deinit {
        if let key { pthread_key_delete(key) }
    }

    /// Whether a snapshot can be kept (``snapshot`` is then read back as set).
    var isAvailable: Bool { key != nil }

    var snapshot: Snapshot? {
        get {
            guard let key, let pointer = pthread_getspecific(key) else { return nil }
            return Unmanaged<Snapshot>.fromOpaque(pointer).takeUnretainedValue()
        }
        set {
            guard let key else { return }
            pthread_setspecific(key, newValue.map { Unmanaged.passUnretained($0).toOpaque() })
        }
    }
}

/// SQLite's `SQLITE_TRANSIENT`: bound bytes are copied before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The columns of a result row by position, from GRDB (`Row`) or ``SQLitePointReader``, so
/// that rows are decoded by one piece of code whichever way they were read.
protocol ResultColumns {
    func isNull(_ index: Int) -> Bool
    func integer(_ index: Int) -> Int64
    func text(_ index: Int) -> String?
    func data(_ index: Int) -> Data
    /// A blob column's bytes.
    func buffer(_ index: Int) -> ByteBuffer
    /// A text or blob column's bytes, valid inside `body`.
    func withBytes<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T
    /// A text or blob column's bytes as UTF-8 text (invalid sequences repaired).
    func string(_ index: Int) -> String
}

extension Row: ResultColumns {
    func isNull(_ index: Int) -> Bool { hasNull(atIndex: index) }
    func integer(_ index: Int) -> Int64 { self[index] }
    func text(_ index: Int) -> String? { self[index] }
    func data(_ index: Int) -> Data { self[index] }
    func buffer(_ index: Int) -> ByteBuffer { ByteBuffer(bytes: data(index)) }
    func withBytes<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let value: DatabaseValue = self[index]
        switch value.storage {
        case .blob(let bytes): return try bytes.withUnsafeBytes(body)
        case .string(var text): return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        default: return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
    func string(_ index: Int) -> String {
        let value: DatabaseValue = self[index]
        switch value.storage {
        case .string(let text): return text
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return ""
        }
    }
}
