import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import S3Facade

/// The pipeline handler that answers requests before NIO's parts become HTTP types: order
/// with the requests it passes on, the idle timeout it keeps for every request, and quiescing.
@Suite("ImmediateRequestHandler")
struct ImmediateRequestHandlerTests {
    /// Answers GETs of `/fast` with `fast`; everything else goes on.
    struct FastOnly: ImmediateResponder {
        func immediateAnswer(to head: HTTPRequestHead, sendingFiles: Bool) -> ImmediateAnswer? {
            guard head.uri == "/fast" else { return nil }
            return ImmediateAnswer(
                head: HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "4"]),
                body: .inline(ByteBuffer(string: "fast")))
        }

        var immediateWriteLimit: Int { 0 }

        func immediateWrite(
            _ head: HTTPRequestHead, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
        ) -> Bool { false }
    }

    static func connected(idleTimeout: TimeAmount? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ImmediateRequestHandler(responder: FastOnly(), load: LoopLoad(), idleTimeout: idleTimeout))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func get(_ uri: String, _ channel: EmbeddedChannel, end: Bool = true) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)))
        if end { try channel.writeInbound(HTTPServerRequestPart.end(nil)) }
    }

    /// The answer written since the last call: its head and body, nil when none was written.
    static func answer(_ channel: EmbeddedChannel) throws -> (HTTPResponseHead, String)? {
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
        var body = ""
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let bytes)) = part { body += String(buffer: bytes) }
            if case .end = part { return (head, body) }
        }
        Issue.record("an answer without its end")
        return nil
    }

    /// The request parts passed on since the last call, as `method uri` for heads.
    static func passedOn(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head): parts.append("\(head.method.rawValue) \(head.uri)")
            case .body: parts.append("body")
            case .end: parts.append("end")
            }
        }
        return parts
    }

    /// Counts the ends of reads that reach it.
    final class ReadCompletions: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        var count = 0
        func channelReadComplete(context: ChannelHandlerContext) {
            count += 1
            context.fireChannelReadComplete()
        }
    }

    /// The end of a read goes on only after something was passed on: the async channel behind
    /// Hummingbird has nothing to take from a read answered here.
    @Test func theEndOfAReadGoesOnOnlyAfterSomethingWasPassedOn() throws {
        let channel = try Self.connected()
        defer { _ = try? channel.finish() }
        let completions = ReadCompletions()
        try channel.pipeline.syncOperations.addHandler(completions)
        try Self.get("/fast", channel)
        #expect(try Self.answer(channel) != nil)
        #expect(completions.count == 0)
        try Self.get("/slow", channel)
        // The GET's head is held until its end shows it goes on: one end of a read goes on.
        #expect(completions.count == 1)
        #expect(try Self.passedOn(channel) == ["GET /slow", "end"])
        try Self.get("/fast", channel)  // behind the unanswered /slow: head and end passed on
        #expect(completions.count == 3)
        #expect(try Self.passedOn(channel) == ["GET /fast", "end"])
        for _ in 0..<2 {
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        }
        while try channel.readOutbound(as: HTTPServerResponsePart.self) != nil {}
        try Self.get("/fast", channel)
        #expect(try Self.answer(channel)?.1 == "fast")
        #expect(completions.count == 3)
    }

    @Test func answersHereOnlyWhileNothingPassedOnIsUnanswered() throws {
        let channel = try Self.connected()
        defer { _ = try? channel.finish() }
        try Self.get("/fast", channel)
        let first = try #require(try Self.answer(channel))
        #expect(first.0.status == .ok && first.1 == "fast")
        #expect(first.0.headers["Date"].count == 1)
        #expect(try Self.passedOn(channel).isEmpty)

        try Self.get("/slow", channel)
        // Its answer is not written yet: a GET this handler could answer goes on behind it.
        try Self.get("/fast", channel)
        #expect(try Self.passedOn(channel) == ["GET /slow", "end", "GET /fast", "end"])
        #expect(try Self.answer(channel) == nil)

        for _ in 0..<2 {
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .notFound)))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        }
        #expect(try Self.answer(channel)?.0.status == .notFound)
        #expect(try Self.answer(channel)?.0.status == .notFound)
        try Self.get("/fast", channel)
        #expect(try Self.answer(channel)?.1 == "fast")
        #expect(try Self.passedOn(channel).isEmpty)
    }

    @Test func closesAConnectionIdleForTheTimeout() throws {
        let channel = try Self.connected(idleTimeout: .seconds(10))
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        loop.advanceTime(by: .seconds(6))
        try Self.get("/fast", channel)
        #expect(try Self.answer(channel) != nil)
        // Answered at 6 s: open until 16 s, though the first deadline (10 s) passed.
        loop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func keepsAConnectionOpenWhileAnAnswerIsBeingMade() throws {
        let channel = try Self.connected(idleTimeout: .seconds(10))
        defer { _ = try? channel.finish() }
        let loop = channel.embeddedEventLoop
        try Self.get("/slow", channel)
        #expect(try Self.passedOn(channel) == ["GET /slow", "end"])
        loop.advanceTime(by: .seconds(30))
        #expect(channel.isActive)
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        loop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func closesAConnectionWhoseRequestStopsArriving() throws {
        let channel = try Self.connected(idleTimeout: .seconds(10))
        defer { _ = try? channel.finish() }
        // A head without its end: held here, and the client sends nothing more.
        try Self.get("/fast", channel, end: false)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func withoutATimeoutAnIdleConnectionStaysOpen() throws {
        let channel = try Self.connected()
        defer { _ = try? channel.finish() }
        channel.embeddedEventLoop.advanceTime(by: .hours(1))
        #expect(channel.isActive)
    }

    @Test func passesEverythingOnOnceAskedToQuiesce() throws {
        let channel = try Self.connected()
        defer { _ = try? channel.finish() }
        // A head held for its end goes on when the event arrives, so that the state handler
        // after this one waits for its answer.
        try Self.get("/fast", channel, end: false)
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try Self.get("/fast", channel)
        #expect(try Self.passedOn(channel) == ["GET /fast", "end", "GET /fast", "end"])
        #expect(try Self.answer(channel) == nil)
    }

    @Test func leavesOtherVersionsThanHTTP11ToTheRegularPath() throws {
        let channel = try Self.connected()
        defer { _ = try? channel.finish() }
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_0, method: .GET, uri: "/fast")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try Self.passedOn(channel) == ["GET /fast", "end"])
    }

    /// Answers GETs of `/file` with a file (a new handle on `path` each time, kept in `opened`)
    /// when the connection may send files; everything else goes on.
    final class FileAnswers: ImmediateResponder, @unchecked Sendable {
        let path: String
        let size: Int64
        var opened: [NIOFileHandle] = []

        init(path: String, size: Int64) {
            self.path = path
            self.size = size
        }

        func immediateAnswer(to head: HTTPRequestHead, sendingFiles: Bool) -> ImmediateAnswer? {
            guard head.uri == "/file", sendingFiles, let file = try? NIOFileHandle(_deprecatedPath: path) else { return nil }
            opened.append(file)
            return ImmediateAnswer(
                head: HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": String(size)]),
                body: .file(file, size: size))
        }

        var immediateWriteLimit: Int { 0 }

        func immediateWrite(
            _ head: HTTPRequestHead, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
        ) -> Bool { false }
    }

    /// Holds every write (a socket that takes nothing) until released.
    final class WriteGate: ChannelOutboundHandler {
        typealias OutboundIn = HTTPServerResponsePart
        var held: [(NIOAny, EventLoopPromise<Void>?)] = []
        /// Every part written, held or released.
        var parts: [HTTPServerResponsePart] = []
        private var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            held.append((data, promise))
            parts.append(unwrapOutboundIn(data))
        }

        func flush(context: ChannelHandlerContext) {}

        func release() {
            guard let context else { return }
            let writes = held
            held = []
            for (data, promise) in writes { context.write(data, promise: promise) }
            context.flush()
        }
    }

    /// Records the inbound events that reach it.
    final class EventLog: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var events: [String] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            events.append("\(type(of: event))")
        }
    }

    /// A file answer: its head, the file as a region and its end go out; the file is closed
    /// once its end is written. Until then the idle timeout does not close the connection, and
    /// inbound events (asked to quiesce, on which Hummingbird's state handler closes an idle
    /// connection) wait, so that the file is not cut short. Without `sendsFiles` the responder
    /// is asked for no file, and the request goes on.
    @Test func aFileBeingSentKeepsTheConnection() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-file-\(UUID().uuidString)").path
        try Array("a file body".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        defer { try? FileManager.default.removeItem(atPath: path) }
        for sendsFiles in [true, false] {
            let responder = FileAnswers(path: path, size: 11)
            let gate = WriteGate()
            let log = EventLog()
            let channel = EmbeddedChannel()
            defer { _ = try? channel.finish() }
            try channel.pipeline.syncOperations.addHandler(gate)
            try channel.pipeline.syncOperations.addHandler(
                ImmediateRequestHandler(responder: responder, load: LoopLoad(), idleTimeout: .seconds(10), sendsFiles: sendsFiles))
            try channel.pipeline.syncOperations.addHandler(log)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try Self.get("/file", channel)
            guard sendsFiles else {
                #expect(responder.opened.isEmpty)
                #expect(gate.held.isEmpty)
                #expect(try Self.passedOn(channel) == ["GET /file", "end"])
                continue
            }
            #expect(try Self.passedOn(channel).isEmpty)
            #expect(gate.held.count == 3)
            guard gate.parts.count == 3, case .body(.fileRegion(let region)) = gate.parts[1] else {
                Issue.record("the body is a file region")
                return
            }
            #expect(region.readableBytes == 11)
            channel.embeddedEventLoop.advanceTime(by: .seconds(30))
            #expect(channel.isActive)
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            #expect(log.events.isEmpty)
            #expect(responder.opened.first?.isOpen == true)

            gate.release()
            #expect(responder.opened.first?.isOpen == false)
            #expect(log.events == ["ChannelShouldQuiesceEvent"])
            channel.embeddedEventLoop.advanceTime(by: .seconds(9))
            #expect(channel.isActive)
            channel.embeddedEventLoop.advanceTime(by: .seconds(2))
            #expect(!channel.isActive)
        }
    }
}
