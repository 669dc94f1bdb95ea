import CSQLiteShim
import Foundation
import GRDB
import GRDBSQLite
import Storage

/// The gateway's SQLite database file, opened once and shared: object metadata
/// (``SQLiteObjectIndex``) and, later, tenants, consents and share links live in it.
///
/// Settings: WAL (concurrent readers, one writer), `synchronous = FULL` so that a committed
/// transaction survives a crash of the process or the machine, and a busy timeout so that an
/// admin command writing from another process waits instead of failing. The WAL is copied back
/// into the database file beside the writer (``WALCheckpointer``), not by its commits.
public final class SQLiteDatabase: Sendable {
    /// The connection pool. Other modules register their own `DatabaseMigrator` migrations (with
    /// identifiers that do not start with `storage-`) and run them on this pool.
    public let pool: DatabasePool
    /// The database file.
    public let path: String
    /// Connections of its own for one-statement reads on the request path.
    let pointReader: SQLitePointReader
    /// Checkpoints the WAL beside the writer, in place of SQLite's automatic checkpoint.
    let checkpointer: WALCheckpointer

    /// Opens (creating if needed, with its directory) the database at `path`.
    /// - Parameters:
    ///   - path: the database file.
    ///   - busyTimeout: how long a write waits for another process's lock.
    /// - Throws: `DatabaseError` when the file cannot be opened or configured, or the file
    ///   system's error when its directory cannot be created.
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        _ = Self.memoryStatisticsOff
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "mediagate"
        self.pool = try DatabasePool(path: path, configuration: configuration)
        self.path = path
        let checkpointer = try WALCheckpointer(path: path)
        self.checkpointer = checkpointer
        // DatabasePool sets `synchronous = NORMAL` on its writer when it enables WAL; commits
        // must be durable, so raise it on the (only) writer connection.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            if let writer = db.sqliteConnection { checkpointer.install(on: writer) }
        }
        // After the writer's first statement: the WAL index exists then.
        self.pointReader = SQLitePointReader(path: path)
    }

    deinit {
        // The hook holds the checkpointer, and the pool (with its writer) may outlive this
        // object. Queued, not waited for: this may run on the writer's own queue.
        let checkpointer = self.checkpointer
        pool.asyncWriteWithoutTransaction { db in
            if let writer = db.sqliteConnection { checkpointer.uninstall(from: writer) }
        }
    }

    /// Whether SQLite's memory statistics are off in this process. They are turned off before
    /// the first database opens: with them on, every allocation and free inside SQLite takes one
    /// process-wide mutex, which concurrent point reads contend for (bench/PROFILE.md, session
    /// 8). Nothing here reads them. False when SQLite was already in use in this process.
    public static let memoryStatisticsOff: Bool = mg_sqlite_disable_memstatus() == 0

    /// The settings that make commits durable, as the writer connection reports them (worth
    /// logging at startup).
    /// - Throws: `DatabaseError`.
    public func durabilitySettings() throws -> DurabilitySettings {
        try pool.writeWithoutTransaction { db in
            DurabilitySettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
    }
}

/// SQLite's journal mode and `synchronous` level (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
public struct DurabilitySettings: Sendable, Equatable {
    /// `wal` for a ``SQLiteDatabase``.
    public var journalMode: String
    /// 2 (FULL) for a ``SQLiteDatabase``.
    public var synchronous: Int

    /// Creates settings.
    public init(journalMode: String, synchronous: Int) {
        self.journalMode = journalMode
        self.synchronous = synchronous
    }
}

/// Opens a plain connection of our own (no GRDB) to the database at `path`, read-write and
/// without SQLite's per-connection mutex (one thread uses it at a time), with a 5-s busy
/// timeout.
/// - Parameter purpose: what the connection is for, in the error ("reading").
/// - Throws: ``StorageError/Code/internalError`` when SQLite cannot open the file.
func openSQLiteConnection(path: String, for purpose: String) throws -> OpaquePointer {
    var handle: OpaquePointer?
    let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
    guard status == SQLITE_OK, let handle else {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "status \(status)"
        sqlite3_close_v2(handle)
        throw StorageError(.internalError, "sqlite: opening \(path) for \(purpose): \(message)")
    }
    sqlite3_busy_timeout(handle, 5000)
    return handle
}
