import Dispatch
import GRDB
import Storage
import Synchronization

/// Group commit for ``SQLiteObjectIndex/commitObject(_:precondition:)``: object commits that
/// arrive while a write transaction is running wait, and the next transaction commits all of
/// them, each in its own savepoint (a failed precondition rolls back only its own record).
///
/// With `synchronous = FULL` every transaction ends in an `fdatasync` of the WAL; concurrent
/// PUTs then share one instead of queueing for one each (bench/PROFILE.md). A lone commit
/// runs at once, as before. Each caller learns its own outcome; if the transaction itself
/// fails, every record in it fails and none is visible.
///
/// The group is drained on a dispatch queue of its own, with GRDB's blocking `write` (which
/// runs on the calling thread when the writer is free): a commit then costs one thread
/// hand-off there and one back to the caller's task, where a drain task awaiting GRDB's async
/// `write` cost four (bench/PROFILE.md, session 7). The caller's continuation does not end
/// early on cancellation, so a commit that started is reported as it ended. Callers that do
/// not suspend (PUTs answered on the event loop) pass a callback instead: ``enqueue(_:precondition:pool:mapError:mayRunHere:done:)``.
final class CommitGroup: Sendable {
    private struct Waiting: Sendable {
        let record: ObjectRecord
        let precondition: WritePrecondition
        let done: @Sendable (Result<[BlobID], any Error>) -> Void
    }

    private struct State {
        var waiting: [Waiting] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "mediagate.commit-group")
    /// The most records one transaction commits.
    private let batchLimit = 64

    /// Commits `record` if `precondition` holds, with whatever else is waiting.
    /// - Returns: the replaced version's blobs.
    func commit(
        _ record: ObjectRecord, precondition: WritePrecondition, pool: DatabasePool,
        mapError: @escaping @Sendable (any Error) -> any Error
    ) async throws -> [BlobID] {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(record, precondition: precondition, pool: pool, mapError: mapError) { continuation.resume(with: $0) }
        }
    }

    /// Queues `record` for the next transaction; `done` runs once that transaction ended, on
    /// the thread that ran it.
    ///
    /// With `mayRunHere`, a caller that finds no transaction running runs the next one itself,
    /// on its own thread, instead of waking the group's queue, then hands anything that arrived
    /// meanwhile to the queue. That saves a lone commit two thread hand-offs, and blocks the
    /// caller for one transaction (a quiet event loop: bench/PROFILE.md, session 12).
    func enqueue(
        _ record: ObjectRecord, precondition: WritePrecondition, pool: DatabasePool,
        mapError: @escaping @Sendable (any Error) -> any Error, mayRunHere: Bool = false,
        done: @escaping @Sendable (Result<[BlobID], any Error>) -> Void
    ) {
        let lead = state.withLock { state in
            state.waiting.append(Waiting(record: record, precondition: precondition, done: done))
            defer { state.draining = true }
            return !state.draining
        }
        guard lead else { return }
        if mayRunHere {
            if let batch = next() { run(batch, pool: pool, mapError: mapError) }
            let more = state.withLock { state in
                state.draining = !state.waiting.isEmpty
                return state.draining
            }
            guard more else { return }
        }
        queue.async { self.drain(pool: pool, mapError: mapError) }
    }

    /// Commits what is waiting, one transaction after another, until nothing is. Blocking.
    private func drain(pool: DatabasePool, mapError: @Sendable (any Error) -> any Error) {
        while let batch = next() {
            run(batch, pool: pool, mapError: mapError)
        }
    }

    /// Takes the next batch; nil, and the group idle, when nothing is waiting.
    private func next() -> [Waiting]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.draining = false
                return nil
            }
            let taken = Array(state.waiting.prefix(batchLimit))
            state.waiting.removeFirst(taken.count)
            return taken
        }
    }

    /// Commits one batch in one transaction and reports each record's outcome.
    private func run(_ batch: [Waiting], pool: DatabasePool, mapError: @Sendable (any Error) -> any Error) {
        do {
            let outcomes = try pool.write { db in
                batch.map { waiting in
                    Result<[BlobID], any Error> {
                        var freed: [BlobID] = []
                        try Self.inSavepoint(db) {
                            try ObjectIndexRows.requireBucket(db, waiting.record.info.bucket)
                            freed = try ObjectIndexRows.replace(db, with: waiting.record, precondition: waiting.precondition)
                        }
                        return freed
                    }
                }
            }
            for (waiting, outcome) in zip(batch, outcomes) {
                waiting.done(outcome.mapError(mapError))
            }
        } catch {
            for waiting in batch { waiting.done(.failure(mapError(error))) }
        }
    }

    /// `body` in a savepoint of the open transaction, rolled back if it throws: GRDB's
    /// `inSavepoint`, with its statements prepared once per connection instead of parsed for
    /// every record (about a dozen allocations and two SQL compilations per PUT).
    private static func inSavepoint(_ db: Database, _ body: () throws -> Void) throws {
        try db.cachedStatement(sql: "SAVEPOINT commit_group").execute()
        do {
            try body()
        } catch {
            try db.cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT commit_group").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT commit_group").execute()
            throw error
        }
        try db.cachedStatement(sql: "RELEASE SAVEPOINT commit_group").execute()
    }
}
