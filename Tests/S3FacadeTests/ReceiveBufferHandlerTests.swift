import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import NIOCore
import NIOHTTPTypes
import Synchronization
import Testing

@testable import S3Facade

/// Connections with a ``ReceiveBufferHandler`` read more than NIO's default 64 KiB at a time
/// when a large body streams in; without one, no body part is larger than 64 KiB.
struct ReceiveBufferHandlerTests {
    /// Notes the largest body part the HTTP decoder passes on (a part is never larger than the
    /// socket read it came from).
    final class LargestBodyPart: ChannelInboundHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        let largest = Mutex(0)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .body(let part) = unwrapInboundIn(data) {
                largest.withLock { $0 = max($0, part.readableBytes) }
            }
            context.fireChannelRead(data)
        }
    }

    /// The largest body part a live server saw while a 16 MiB body was uploaded.
    static func largestPart(withHandler: Bool) async throws -> Int {
        let probe = LargestBodyPart()
        let router = Router()
        router.put("/upload") { request, _ -> String in
            var total = 0
            for try await buffer in request.body { total += buffer.readableBytes }
            return String(total)
        }
        let handlers: @Sendable () -> [any RemovableChannelHandler] = {
            withHandler ? [ReceiveBufferHandler(), probe] : [probe]
        }
        let app = Application(router: router, server: .http1(configuration: .init(additionalChannelHandlers: handlers())))
        let size = 16 << 20
        try await app.test(.live) { client in
            let response = try await client.execute(
                uri: "/upload", method: .put, body: ByteBuffer(repeating: 7, count: size))
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == String(size))
        }
        return probe.largest.withLock { $0 }
    }

    @Test
    func largeBodiesArriveInLargerReads() async throws {
        let largest = try await Self.largestPart(withHandler: true)
        #expect(largest > 64 << 10)
        #expect(largest <= ReceiveBufferHandler.defaultMaximum)
    }

    @Test
    func withoutItReadsStayAtNIOsDefault() async throws {
        #expect(try await Self.largestPart(withHandler: false) <= 64 << 10)
    }
}
