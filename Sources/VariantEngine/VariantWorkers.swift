import NIOCore
import NIOPosix
import Synchronization

/// Threads of their own for libvips (its calls block), behind a bounded queue.
///
/// - Important: call ``shutdown()`` before the process ends.
public final class VariantWorkers: Sendable {
    private let pool: NIOThreadPool
    private let bound: Int
    private let admitted = Mutex(0)

    /// Starts `threads` worker threads; at most `queueBound` jobs wait or run at once.
    public init(threads: Int = System.coreCount, queueBound: Int = 32) {
        precondition(threads > 0 && queueBound >= threads, "need at least one thread and a queue that holds them")
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.bound = queueBound
        pool.start()
    }

    /// Runs a job on a worker thread.
    /// - Throws: ``VariantError`` `.busy` when the queue is full; the job's own error.
    public func run<T: Sendable>(_ job: @escaping @Sendable () throws(VariantError) -> T) async throws -> T {
        try await run(loading: {}, { (_: Void) throws(VariantError) -> T in try job() })
    }

    /// Takes a place in the queue, then loads the job's input (the source bytes) and runs the
    /// job on a worker thread: the bound also caps how many inputs are in memory at once.
    /// - Throws: ``VariantError`` `.busy` when the queue is full (before anything is loaded);
    ///   the loader's or the job's own error.
    public func run<Input: Sendable, T: Sendable>(
        loading load: () async throws -> Input, _ job: @escaping @Sendable (Input) throws(VariantError) -> T
    ) async throws -> T {
        let accepted = admitted.withLock { count in
            guard count < bound else { return false }
            count += 1
            return true
        }
        guard accepted else { throw VariantError(.busy, "more than \(bound) derivations waiting") }
        defer { admitted.withLock { $0 -= 1 } }
        let input = try await load()
        let result: Result<T, VariantError> = try await pool.runIfActive {
            Result { () throws(VariantError) -> T in try job(input) }
        }
        return try result.get()
    }

    /// Stops the threads once their jobs are done.
    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }
}
