/// The task executor the current request's handler prefers, set by the HTTP layer beside its
/// `withTaskExecutorPreference`.
///
/// An unstructured task does not inherit its creator's executor preference, but it does inherit
/// task-locals. A store that runs part of a request in a task of its own (to finish it even if
/// the request is cancelled) and awaits it can start that task with
/// `Task(executorPreference: RequestExecutor.current)`, so that it runs where the request runs
/// instead of hopping to the global pool and back. `nil` outside a request.
public enum RequestExecutor {
    @TaskLocal public static var current: (any TaskExecutor)?
}
