import Foundation
import Synchronization
import Testing

@testable import VariantEngine

/// A job that signals when it starts and then blocks its worker thread until opened (at most
/// 20 s, so a failing test cannot hang the run).
final class Gate: Sendable {
    private let state = Mutex((entered: false, open: false))

    var entered: Bool { state.withLock { $0.entered } }

    func open() { state.withLock { $0.open = true } }

    func enterAndWait() {
        state.withLock { $0.entered = true }
        let deadline = Date().addingTimeInterval(20)
        while !state.withLock({ $0.open }), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.002)
        }
    }

    /// Waits (on the test's task) until a job entered, at most 10 s.
    func waitUntilEntered() async throws {
        for _ in 0..<2000 where !entered {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(entered, "the slow job never started")
    }
}

struct VariantWorkersTests {
    @Test("with one thread and a queue of one, a second job while the first runs is busy", .timeLimit(.minutes(1)))
    func busy() async throws {
        let workers = VariantWorkers(threads: 1, queueBound: 1)
        let gate = Gate()
        let slow = Task { try await workers.run { () throws(VariantError) -> Int in gate.enterAndWait(); return 1 } }
        try await gate.waitUntilEntered()
        let error = await #expect(throws: VariantError.self) {
            _ = try await workers.run { () throws(VariantError) -> Int in 2 }
        }
        #expect(error?.code == VariantError.Code.busy)
        gate.open()
        #expect(try await slow.value == 1)
        // The slot is free again.
        let third = try await workers.run { () throws(VariantError) -> Int in 3 }
        #expect(third == 3)
        try await workers.shutdown()
    }

    @Test("a queue of two takes a waiting job beside the running one, and refuses a third", .timeLimit(.minutes(1)))
    func queueBound() async throws {
        let workers = VariantWorkers(threads: 1, queueBound: 2)
        let gate = Gate()
        let slow = Task { try await workers.run { () throws(VariantError) -> Int in gate.enterAndWait(); return 1 } }
        try await gate.waitUntilEntered()
        // The loader runs once the job has its place in the queue: wait for that, not for a time.
        let (admitted, admit) = AsyncStream<Void>.makeStream()
        let waiting = Task {
            try await workers.run(loading: { admit.yield() }, { (_: Void) throws(VariantError) -> Int in 2 })
        }
        for await _ in admitted { break }
        let error = await #expect(throws: VariantError.self) {
            _ = try await workers.run { () throws(VariantError) -> Int in 3 }
        }
        #expect(error?.code == VariantError.Code.busy)
        gate.open()
        #expect(try await slow.value == 1)
        #expect(try await waiting.value == 2)
        try await workers.shutdown()
    }

    @Test("a job's own error comes back unchanged")
    func jobError() async throws {
        let workers = VariantWorkers(threads: 1, queueBound: 1)
        let error = await #expect(throws: VariantError.self) {
            _ = try await workers.run { () throws(VariantError) -> Int in throw VariantError(.invalidImage, "broken") }
        }
        #expect(error == VariantError(.invalidImage, "broken"))
        // The failed job released its slot.
        let next = try await workers.run { () throws(VariantError) -> String in "ok" }
        #expect(next == "ok")
        try await workers.shutdown()
    }
}
