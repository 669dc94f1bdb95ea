/// The task executor the current request's handler prefers, set by the HTTP layer beside its
/// `withTaskExecutorPreference`.
///
/// An unstructured task does not inherit its creator's executor preference, but it does inherit
/// task-locals. A store that runs part of a request in a task of its own (to finish it even if
/// the request is cancelled) and awaits it can start that task with
/// `Task(executorPreference: RequestExecutor.current)`, so that it runs where the request runs
/// instead of hopping to the global pool and back.
///
/// `nil` where no HTTP layer set it. Because task-locals are inherited, a plain `Task {}` that a
/// request starts still sees the request's executor after the request has ended; work meant to
/// outlive the request starts with ``startOutsideRequest(_:)`` instead.
public enum RequestExecutor {
    @TaskLocal public static var current: (any TaskExecutor)?

    /// Starts `operation` in an unstructured task that is not part of the current request
    /// (background work a request only triggers): it sees no request executor, so the tasks it
    /// starts with `Task(executorPreference: current)` run on the global pool, not on the
    /// executor of a connection that may have closed, or an event loop that may have stopped.
    @discardableResult
    public static func startOutsideRequest<T: Sendable>(
        _ operation: @escaping @Sendable () async throws -> T
    ) -> Task<T, any Error> {
        Task { try await $current.withValue(nil) { try await operation() } }
    }
}
