import Foundation
import GatewayCore
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Answers the reads that ``S3Gateway/immediateAnswer(to:)`` can answer at once on the
/// connection's event loop, in the channel pipeline, before they become one of Hummingbird's
/// per-request tasks. Every other request passes on unchanged.
///
/// Hummingbird hands each request to an async handler through `NIOAsyncChannel` and writes the
/// answer back through it; for a 4 KiB GET that costs more than the GET itself (measured against
/// a plain SwiftNIO server on this machine kind: bench/PROFILE.md, session 11).
///
/// It sits after Hummingbird's `HTTPConnectionStateHandler`, so that answers written here
/// count for the idle timeout and for graceful shutdown like any other. A request is answered
/// here only while no earlier request of the connection is still being answered by
/// Hummingbird (answers must leave in request order), and only once its end has arrived
/// without a body.
final class ImmediateReadHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let answer: @Sendable (HTTPRequest) -> ImmediateAnswer?
    /// Requests passed on whose answers have not been fully written.
    private var passedOn = 0
    /// A request head kept until its end shows that it has no body.
    private var held: HTTPRequest?
    /// The `Date` header of the current second.
    private var date: (second: Int, value: String) = (0, "")

    init(answer: @escaping @Sendable (HTTPRequest) -> ImmediateAnswer?) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0 && (head.method == .get || head.method == .head) {
                held = head
                return
            }
            passedOn += 1
        case .body:
            passOnHeld(context: context)
        case .end:
            if let head = held {
                held = nil
                if let made = answer(head) {
                    write(made, context: context)
                    return
                }
                passedOn += 1
                context.fireChannelRead(wrapInboundOut(.head(head)))
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 { passedOn -= 1 }
        context.write(data, promise: promise)
    }

    private func passOnHeld(context: ChannelHandlerContext) {
        guard let head = held else { return }
        held = nil
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    private func write(_ made: ImmediateAnswer, context: ChannelHandlerContext) {
        var head = made.head
        head.headerFields[.date] = currentDate()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = made.body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The `Date` header, formatted once a second.
    private func currentDate() -> String {
        let now = Date()
        let second = Int(now.timeIntervalSince1970)
        if second != date.second { date = (second, HTTPDate.rfc1123(now)) }
        return date.value
    }
}
