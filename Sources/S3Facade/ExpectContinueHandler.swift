import GatewayCore
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Answers `Expect: 100-continue` only once the gateway starts reading the body, that is after
/// the request passed authentication, policy and the checks of its declared length and type.
///
/// A refused upload then costs the client nothing: it gets the final answer instead of
/// `100 Continue`, and the connection is closed after that answer (its unsent body would
/// otherwise be taken for the next request), as S3 does.
///
/// The handler marks such a request with a private header naming a ticket in a
/// ``ContinueRegistry`` shared with the ``S3Gateway``; the gateway redeems the ticket on the
/// first read of the body. Install one handler per connection through the HTTP/1 channel's
/// `additionalChannelHandlers`.
public final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let registry: ContinueRegistry
    /// The ticket of the current request while its `100 Continue` is owed.
    private var ticket: String?
    /// Whether the current request's `100 Continue` was sent.
    private var continued = false
    /// Set when the current answer goes out without a `100 Continue`: close after it.
    private var closeAfterResponse = false

    /// Creates a handler for one connection.
    public init(registry: ContinueRegistry) {
        self.registry = registry
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // A client cannot name a ticket itself. (Checked first: removing a field copies the
        // header storage, on every request.)
        if head.headerFields[.mediagateContinue] != nil { head.headerFields[.mediagateContinue] = nil }
        forget()
        continued = false
        closeAfterResponse = false
        if head.headerFields[.expect]?.lowercased() == "100-continue" {
            let ticket = RandomTicket.make()
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            registry.register(ticket) {
                boundContext.eventLoop.execute {
                    handler.value.sendContinue(context: boundContext.value, ticket: ticket)
                }
            }
            self.ticket = ticket
            head.headerFields[.mediagateContinue] = ticket
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    private func sendContinue(context: ChannelHandlerContext, ticket: String) {
        guard self.ticket == ticket, !continued else { return }
        continued = true
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.status.kind != .informational:
            if ticket != nil && !continued {
                closeAfterResponse = true
                response.headerFields[.connection] = "close"
            }
            forget()
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closeAfterResponse:
            closeAfterResponse = false
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            // The write completes on the channel's loop, where the context may be used.
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        forget()
    }

    private func forget() {
        if let ticket { registry.remove(ticket) }
        ticket = nil
    }
}

/// Tickets for owed `100 Continue` answers, shared by every connection's
/// ``ExpectContinueHandler`` and the ``S3Gateway``.
public final class ContinueRegistry: Sendable {
    private let pending = Mutex<[String: @Sendable () -> Void]>([:])

    /// Creates an empty registry.
    public init() {}

    func register(_ ticket: String, send: @escaping @Sendable () -> Void) {
        pending.withLock { $0[ticket] = send }
    }

    func remove(_ ticket: String) {
        _ = pending.withLock { $0.removeValue(forKey: ticket) }
    }

    /// Sends the `100 Continue` a ticket stands for (once; unknown tickets are ignored).
    func redeem(_ ticket: String) {
        let send = pending.withLock { $0.removeValue(forKey: ticket) }
        send?()
    }
}

/// 128-bit random tickets, hex.
enum RandomTicket {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        return String(high, radix: 16) + "-" + String(low, radix: 16)
    }
}

/// A request body that runs `onFirstRead` when it is first read.
struct SignalingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let onFirstRead: @Sendable () -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        var onFirstRead: (@Sendable () -> Void)?

        mutating func next() async throws -> ByteBuffer? {
            if let signal = onFirstRead {
                onFirstRead = nil
                signal()
            }
            return try await base.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), onFirstRead: onFirstRead)
    }
}
