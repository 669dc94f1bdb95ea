import Storage

/// Runs one job per key at a time: callers that ask for a key already running wait for the same
/// result instead of running the job again.
actor SingleFlight<Value: Sendable> {
    private var running: [String: Task<Value, any Error>] = [:]

    /// The value of `job` for `key`, shared with concurrent callers of the same key. The job is
    /// not part of the first caller's request (that caller may leave while others wait), so it
    /// runs outside it.
    func run(_ key: String, _ job: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let task = running[key] { return try await task.value }
        let task = RequestExecutor.startOutsideRequest(job)
        running[key] = task
        defer { running[key] = nil }
        return try await task.value
    }
}
