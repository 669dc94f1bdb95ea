import Dispatch
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import NIOCore
import NIOPosix
import Storage
import Testing

@testable import S3Facade

/// A live server built with `http1(configuration:quietBelow:)` on one event loop: a lone
/// request's handler runs on that loop (also after resuming from another thread); while
/// another request is in progress there, handlers run off the loop; once it is answered, on
/// the loop again. Hummingbird's own server never runs them on the loop.
struct QuietLoopExecutorTests {
    /// Where a handler ran.
    struct Seen: Equatable {
        /// It started on an event loop thread.
        var startedOnLoop: Bool
        /// After resuming from a dispatch thread it was on the same event loop.
        var resumedOnSameLoop: Bool

        static let onLoop = Seen(startedOnLoop: true, resumedOnSameLoop: true)
        static let offLoop = Seen(startedOnLoop: false, resumedOnSameLoop: false)
    }

    /// `GET /where` reports where it ran; `GET /hold` signals `held` and answers once
    /// `release` yields.
    static func app(server: HTTPServerBuilder, group: any EventLoopGroup, held: AsyncStream<Void>.Continuation, release: AsyncStream<Void>)
        -> some ApplicationProtocol
    {
        let router = Router()
        router.get("/where") { _, _ -> String in
            let before = MultiThreadedEventLoopGroup.currentEventLoop
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async { done.resume() }
            }
            let after = MultiThreadedEventLoopGroup.currentEventLoop
            let same = before.map { before in after.map { $0 === before } ?? false } ?? false
            return "\(before != nil) \(same)"
        }
        router.get("/task") { _, _ -> String in
            let started = RequestExecutor.current != nil
            let onLoop = await Task(executorPreference: RequestExecutor.current) {
                MultiThreadedEventLoopGroup.currentEventLoop != nil
            }.value
            return "\(started) \(onLoop)"
        }
        router.get("/hold") { _, _ -> String in
            held.yield()
            for await _ in release { break }
            return "released"
        }
        return Application(router: router, server: server, eventLoopGroupProvider: .shared(group))
    }

    static func seen(_ client: some TestClientProtocol) async throws -> Seen {
        let response = try await client.execute(uri: "/where", method: .get)
        #expect(response.status == .ok)
        let words = String(buffer: response.body).split(separator: " ")
        return Seen(startedOnLoop: words.first == "true", resumedOnSameLoop: words.last == "true")
    }

    /// What `/where` saw: three lone requests, one while `/hold` is in progress on another
    /// connection, and one after `/hold` was answered.
    static func observe(server: HTTPServerBuilder) async throws -> (lone: [Seen], busy: Seen, after: Seen) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (heldSignals, held) = AsyncStream<Void>.makeStream()
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let result = try await app(server: server, group: group, held: held, release: release).test(.live) { client in
            var lone: [Seen] = []
            for _ in 0..<3 { lone.append(try await seen(client)) }
            let port = try #require(client.port)
            let (busy, holdAnswer) = try await TestClient.withClient(
                host: "127.0.0.1", port: port, eventLoopGroupProvider: .shared(group)
            ) { other in
                async let holding = other.get("/hold")
                for await _ in heldSignals { break }
                let busy = try await seen(client)
                releaser.yield()
                return (busy, (try await holding.body).map { String(buffer: $0) })
            }
            #expect(holdAnswer == "released")
            return (lone: lone, busy: busy, after: try await seen(client))
        }
        try await group.shutdownGracefully()
        return result
    }

    @Test
    func loneRequestsRunOnTheLoopOthersOffIt() async throws {
        let seen = try await Self.observe(server: .http1(configuration: .init(), quietBelow: 2))
        #expect(seen.lone == [.onLoop, .onLoop, .onLoop])
        #expect(seen.busy == .offLoop)
        #expect(seen.after == .onLoop)
    }

    /// A request whose client went away before the answer counts while its handler still runs
    /// (the server has a half-closed connection with work in progress), and stops counting once
    /// the handler ends: lone requests run on the loop again.
    @Test
    func aRequestWhoseClientLeftStopsCountingWhenItEnds() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (heldSignals, held) = AsyncStream<Void>.makeStream()
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let server = HTTPServerBuilder.http1(configuration: .init(), quietBelow: 2)
        try await Self.app(server: server, group: group, held: held, release: release).test(.live) { client in
            let other = TestClient(host: "127.0.0.1", port: try #require(client.port), eventLoopGroupProvider: .shared(group))
            other.connect()
            let holding = Task { try? await other.get("/hold") }
            for await _ in heldSignals { break }
            try await other.shutdown()
            _ = await holding.value
            #expect(try await Self.seen(client) == .offLoop)
            releaser.yield()
            // The handler ends on its own time after the release; ask until it has.
            var seen = Seen.offLoop
            for _ in 0..<1000 where seen != .onLoop {
                try await Task.sleep(for: .milliseconds(10))
                seen = try await Self.seen(client)
            }
            #expect(seen == .onLoop)
        }
        try await group.shutdownGracefully()
    }

    @Test
    func hummingbirdsOwnServerRunsThemOffTheLoop() async throws {
        let seen = try await Self.observe(server: .http1(configuration: .init()))
        #expect(seen.lone == [.offLoop, .offLoop, .offLoop])
        #expect(seen.busy == .offLoop)
        #expect(seen.after == .offLoop)
    }

    /// A handler's unstructured task started with ``RequestExecutor/current`` (as the disk
    /// store's commits are) runs on the loop too; Hummingbird's own server sets no request
    /// executor, and such a task runs on the global pool.
    @Test(arguments: [true, false])
    func tasksStartedWithTheRequestExecutorRunOnTheLoop(quiet: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (_, held) = AsyncStream<Void>.makeStream()
        let (release, _) = AsyncStream<Void>.makeStream()
        let server: HTTPServerBuilder = quiet ? .http1(configuration: .init(), quietBelow: 2) : .http1(configuration: .init())
        try await Self.app(server: server, group: group, held: held, release: release).test(.live) { client in
            for _ in 0..<3 {
                let response = try await client.execute(uri: "/task", method: .get)
                #expect(String(buffer: response.body) == (quiet ? "true true" : "false false"))
            }
        }
        try await group.shutdownGracefully()
    }
}
