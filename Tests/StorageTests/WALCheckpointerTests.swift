import Foundation
import GRDB
import GRDBSQLite
import Logging
import Storage
import Synchronization
import Testing

@testable import SQLiteMetadata

/// `WALCheckpointer`: the writer's commits no longer copy the WAL into the database file
/// (SQLite's automatic checkpoint), a queue of its own does, and the WAL stays bounded when
/// that queue cannot keep up.
@Suite("WAL checkpoints beside the writer")
struct WALCheckpointerTests {
    /// A scratch database in WAL mode with one table, and a checkpointer installed on its
    /// writer; the checkpointer is uninstalled and the files removed afterwards.
    private static func withPool(
        step: Int32, limit: Int32, _ body: (DatabasePool, WALCheckpointer, String) async throws -> Void
    ) async throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        let pool = try DatabasePool(path: path)
        try createTable(pool)
        let checkpointer = try WALCheckpointer(path: path, step: step, limit: limit)
        try onWriter(pool) { checkpointer.install(on: $0) }
        defer { try? onWriter(pool) { checkpointer.uninstall(from: $0) } }
        try await body(pool, checkpointer, path)
    }

    /// Creates the table; the WAL's frames are then counted with 4 KiB pages (SQLite's default).
    private static func createTable(_ pool: DatabasePool) throws {
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (x BLOB NOT NULL)") }
        let pageSize = try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") }
        try #require(pageSize == 4096)
    }

    /// Runs `body` with the pool's writer connection.
    private static func onWriter(_ pool: DatabasePool, _ body: (OpaquePointer) -> Void) throws {
        try pool.writeWithoutTransaction { db in body(try #require(db.sqliteConnection)) }
    }

    /// Commits until the WAL has room for `frames` frames (at most 500 commits): with nothing
    /// copying it back, it grows.
    private static func grow(_ pool: DatabasePool, path: String, to frames: Int) throws {
        for _ in 0..<500 where walFrames(path) < frames { try commit(pool, rows: 20) }
    }

    /// Commits `rows` rows of 4 KiB each (about two WAL frames per row).
    private static func commit(_ pool: DatabasePool, rows: Int) throws {
        try pool.write { db in
            for _ in 0..<rows { try db.execute(sql: "INSERT INTO t (x) VALUES (randomblob(4096))") }
        }
    }

    private static func rows(_ pool: DatabasePool) throws -> Int? {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") }
    }

    private static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Frames the WAL file has room for (its high-water mark: a WAL that starts over is
    /// overwritten in place, not shortened).
    private static func walFrames(_ path: String) -> Int {
        max(0, size(path + "-wal") - 32) / (4096 + 24)
    }

    /// Waits up to 20 s for `condition`.
    private static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<400 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test
    func commitsPastTheIntervalLeaveTheCopyToTheBackground() async throws {
        try await Self.withPool(step: 100, limit: 4000) { pool, checkpointer, path in
            try await Self.expectCopyLeftToTheQueue(pool, checkpointer, path: path)
        }
    }

    /// With the queue held, commits take the WAL far past SQLite's automatic checkpoint (1,000
    /// frames) and below the limit without copying a page into the database file; released,
    /// the queue copies.
    private static func expectCopyLeftToTheQueue(
        _ pool: DatabasePool, _ checkpointer: WALCheckpointer, path: String
    ) async throws {
        checkpointer.hold(true)
        let before = size(path)
        try grow(pool, path: path, to: 1500)
        #expect(walFrames(path) >= 1500)
        #expect(size(path) == before)
        #expect(checkpointer.passes == 0)

        checkpointer.hold(false)
        // A pass is counted when it ends; the file grows while it copies, before that.
        #expect(try await eventually { checkpointer.passes >= 1 })
        #expect(size(path) > before)
    }

    @Test
    func theHookWakesTheBackgroundEveryStep() async throws {
        try await Self.withPool(step: 100, limit: 4000) { pool, checkpointer, path in
            let before = Self.size(path)
            // Commits of about 20 frames until the queue has run twice: the hook wakes it again
            // after its first pass (it woke for none without the hook's wake-up, checked).
            let woken = try await Self.eventually {
                try? Self.commit(pool, rows: 10)
                return checkpointer.passes >= 2 && Self.size(path) > before
            }
            #expect(woken)
        }
    }

    @Test
    func theWriterBoundsTheWALWhenTheBackgroundFallsBehind() async throws {
        try await Self.withPool(step: 100, limit: 400) { pool, checkpointer, path in
            checkpointer.hold(true)
            var largest = 0
            for _ in 0..<300 {
                let frames = Self.walFrames(path)
                try Self.commit(pool, rows: 10)
                largest = max(largest, Self.walFrames(path) - frames)
            }
            // 300 commits of ~20 frames: ~6,000 frames without a checkpoint. The writer copies
            // at 400 and the WAL starts over, so it never holds more than 400 plus one commit.
            #expect(largest > 0)
            #expect(Self.walFrames(path) <= 400 + largest)
            #expect(checkpointer.passes == 0)
            #expect(try Self.rows(pool) == 3000)
        }
    }

    @Test
    func aFileThatIsNoDatabaseFailsAtStart() throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        // Opening succeeds (SQLite reads lazily); the checked first statements do not.
        #expect(throws: StorageError.self) { _ = try WALCheckpointer(path: path) }
    }

    @Test
    func theGatewaysDatabaseHasTheHookInstead() async throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        let database = try SQLiteDatabase(path: path)
        try Self.createTable(database.pool)
        try await Self.expectCopyLeftToTheQueue(database.pool, database.checkpointer, path: path)
        // The database stays open until here: closing it would checkpoint too.
        withExtendedLifetime(database) {}
    }

    @Test
    func aFailedCheckpointIsLoggedAndABusyOneIsNot() async throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        let pool = try DatabasePool(path: path)
        try Self.createTable(pool)
        let logged = LoggedLines()
        let checkpointer = try WALCheckpointer(
            path: path, logger: Logger(label: "test") { _ in CapturingLogHandler(lines: logged) })
        try Self.onWriter(pool) { writer in
            // A real failure of SQLite's: a checkpoint of a database the connection lacks.
            let failed = sqlite3_wal_checkpoint_v2(writer, "nosuch", SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            #expect(failed == SQLITE_ERROR)
            checkpointer.report(failed, by: "the writer", connection: writer, frames: 4000)
            // Busy (plain and extended) leaves the frames to the next checkpoint: not logged.
            checkpointer.report(SQLITE_BUSY, by: "a background pass", connection: writer, frames: nil)
            checkpointer.report(SQLITE_BUSY | (2 << 8), by: "a background pass", connection: writer, frames: nil)
            checkpointer.report(SQLITE_OK, by: "a background pass", connection: writer, frames: nil)
        }
        let lines = logged.lines.withLock { $0 }
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.level == .warning)
        #expect(line.message == "WAL checkpoint failed")
        #expect(line.metadata["by"] == "the writer")
        #expect(line.metadata["code"] == "\(SQLITE_ERROR)")
        #expect(line.metadata["walFrames"] == "4000")
        #expect(line.metadata["error"]?.description.contains("nosuch") == true)
    }
}

/// What a ``CapturingLogHandler`` was given.
private final class LoggedLines: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    let lines = Mutex<[Line]>([])
}

/// A log handler that keeps every line it is given.
private struct CapturingLogHandler: LogHandler {
    let lines: LoggedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = LoggedLines.Line(level: event.level, message: "\(event.message)", metadata: event.metadata ?? [:])
        lines.lines.withLock { $0.append(line) }
    }
}
