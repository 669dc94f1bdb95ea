import Synchronization

/// A sliding-window limit: at most `limit` events per `window` for each key.
///
/// Per process: with several instances each one counts on its own (the effective limit is
/// `limit` × instances).
final class RateLimiter: Sendable {
    private let limit: Int
    private let window: Duration
    private let events = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration) {
        precondition(limit > 0, "a rate limit must allow at least one event")
        self.limit = limit
        self.window = window
    }

    /// Records an event for `key` when the limit allows it.
    /// - Returns: nil when allowed, else how long until the next event would be.
    func acquire(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        events.withLock { events in
            if events.count > 10_000 {
                // Forget keys with nothing left in their window.
                events = events.filter { $0.value.last.map { now - $0 < window } ?? false }
            }
            var recent = events[key, default: []].filter { now - $0 < window }
            if recent.count >= limit {
                events[key] = recent
                return window - (now - recent[0])
            }
            recent.append(now)
            events[key] = recent
            return nil
        }
    }
}
