import Dispatch
import GRDBSQLite
import Logging
import Storage
import Synchronization

/// Checkpoints the database's WAL beside the writer instead of inside its commits.
///
/// SQLite's automatic checkpoint runs in the commit that takes the WAL past 1,000 frames: that
/// commit (and under load every commit queued behind it) waits while the WAL's pages are copied
/// into the database file and both files are synced, several milliseconds once every 150 or so
/// small PUTs (bench/PROFILE.md, session 14). Here the writer connection's WAL hook, which
/// replaces the automatic checkpoint, wakes a queue of this class's own each time ``step`` more
/// frames are in the WAL, and the queue checkpoints on a connection of its own in SQLite's
/// PASSIVE mode, which neither waits for nor blocks the writer and the readers.
///
/// A PASSIVE checkpoint copies the frames that are in the WAL when it starts. The WAL starts
/// over from its beginning only when a write transaction begins after every frame was copied,
/// which a steady stream of commits does not leave time for; so once the WAL holds ``limit``
/// frames the writer checkpoints itself after its commit, as SQLite's automatic checkpoint
/// would, and the next transaction starts the WAL over. The background passes have copied
/// most of it by then, so that checkpoint copies what came after their last pass.
final class WALCheckpointer: Sendable {
    /// Frames appended between two background passes: SQLite's automatic checkpoint interval.
    let step: Int32
    /// The WAL length (frames) at which the writer checkpoints after its commit.
    let limit: Int32

    private struct State {
        /// The WAL length at which the next pass is due.
        var due: Int32
        /// The WAL length the hook last saw; a shorter one means the WAL started over.
        var seen: Int32 = 0
        /// A pass is queued or running.
        var busy = false
        /// Passes run (for tests).
        var passes = 0
        /// Passes wait while set (tests: the writer's own checkpoint alone).
        var held = false
    }

    private let state: Mutex<State>
    private let connection: CheckpointConnection
    /// Where failed checkpoints are reported.
    private let logger: Logger
    private let queue = DispatchQueue(label: "mediagate.wal-checkpoint")
    /// The hook is installed and holds this checkpointer.
    private let installed = Mutex(false)

    /// A checkpointer for the WAL database at `path`, with a connection of its own.
    /// - Throws: ``StorageError/Code/internalError`` when the connection cannot be opened.
    init(path: String, step: Int32 = 1000, limit: Int32 = 4000, logger: Logger = Logger(label: "mediagate.sqlite")) throws {
        precondition(step > 0 && limit > step)
        self.step = step
        self.limit = limit
        self.logger = logger
        self.state = Mutex(State(due: step))
        self.connection = try CheckpointConnection(path: path)
    }

    /// Installs the WAL hook on `writer`, the database's only writing connection; the hook
    /// holds this checkpointer until ``uninstall(from:)``.
    func install(on writer: OpaquePointer) {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        sqlite3_wal_hook(writer, walHook, Unmanaged.passRetained(self).toOpaque())
    }

    /// Gives `writer` SQLite's automatic checkpoint back in place of the hook, and lets go of
    /// this checkpointer; nothing when the hook was not installed.
    func uninstall(from writer: OpaquePointer) {
        let was = installed.withLock { installed in
            defer { installed = false }
            return installed
        }
        guard was else { return }
        sqlite3_wal_autocheckpoint(writer, step)
        Unmanaged.passUnretained(self).release()
    }

    /// The number of background passes run so far.
    var passes: Int { state.withLock { $0.passes } }

    /// While `true`, background passes wait (the writer's own checkpoint still runs).
    func hold(_ value: Bool) {
        state.withLock { $0.held = value }
        if !value { queue.async { self.pass() } }
    }

    /// Called by the hook on the writer's thread after each commit, with the WAL's length.
    fileprivate func committed(frames: Int32, writer: OpaquePointer?, name: UnsafePointer<CChar>?) {
        if frames >= limit {
            // SQLite's automatic checkpoint does the same from its hook. Busy (a background
            // pass is running) just leaves it to the next commit.
            let status = sqlite3_wal_checkpoint_v2(writer, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            report(status, by: "the writer", connection: writer, frames: frames)
            return
        }
        let wake = state.withLock { state in
            if frames < state.seen { state.due = step }
            state.seen = frames
            guard frames >= state.due, !state.busy else { return false }
            state.busy = true
            state.due = frames + step
            return true
        }
        if wake { queue.async { self.pass() } }
    }

    private func pass() {
        guard !state.withLock({ $0.held }) else { return }
        // Errors (SQLITE_BUSY while the writer checkpoints, I/O) leave the frames to the next
        // pass or the writer; the WAL stays valid either way.
        let status = connection.checkpoint()
        report(status, by: "a background pass", connection: connection.handle, frames: nil)
        state.withLock { state in
            state.busy = false
            state.passes += 1
        }
    }
}

extension WALCheckpointer {
    /// Logs a checkpoint that failed for a reason other than a busy database (another
    /// checkpoint running, which the next one follows up): the frames stay in the WAL, which
    /// grows until a checkpoint succeeds.
    func report(_ status: Int32, by whom: String, connection: OpaquePointer?, frames: Int32?) {
        guard status != SQLITE_OK, status & 0xFF != SQLITE_BUSY else { return }
        var metadata: Logger.Metadata = [
            "by": "\(whom)", "code": "\(status)",
            "error": "\(connection.map { String(cString: sqlite3_errmsg($0)) } ?? "")",
        ]
        if let frames { metadata["walFrames"] = "\(frames)" }
        logger.warning("WAL checkpoint failed", metadata: metadata)
    }
}

/// SQLite's WAL hook: a C function, with the checkpointer as its context.
private func walHook(
    context: UnsafeMutableRawPointer?, writer: OpaquePointer?, name: UnsafePointer<CChar>?, frames: Int32
) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
        .committed(frames: frames, writer: writer, name: name)
    return SQLITE_OK
}

/// The checkpointer's connection; used on its queue only.
private final class CheckpointConnection: @unchecked Sendable {
    let handle: OpaquePointer

    init(path: String) throws {
        let handle = try openSQLiteConnection(path: path, for: "checkpoints")
        // The checkpoint syncs the WAL before it copies pages and the database file after. The
        // first read opens the WAL (and fails here, not silently later, if the file is no
        // database in WAL mode this connection can read). Before `self.handle` is set: once it
        // is, a throw would run `deinit`, which closes it too.
        for sql in ["PRAGMA synchronous = FULL", "SELECT count(*) FROM sqlite_master"] {
            let status = sqlite3_exec(handle, sql, nil, nil, nil)
            guard status == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(handle))
                sqlite3_close_v2(handle)
                throw StorageError(.internalError, "sqlite: preparing \(path) for checkpoints: \(message)")
            }
        }
        self.handle = handle
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// A PASSIVE checkpoint; SQLite's result code.
    func checkpoint() -> Int32 {
        sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }
}
