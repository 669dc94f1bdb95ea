import Foundation
import GatewayCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Answers in the channel pipeline, on the connection's event loop, the requests an
/// ``ImmediateResponder`` can answer without a per-request task: plain reads at once
/// (``S3Gateway/immediateAnswer(to:sendingFiles:)``), small PUTs once their commit ends
/// (``S3Gateway/immediateWrite(_:body:quiet:answer:)``). Every other request passes on unchanged.
///
/// Hummingbird hands each request to an async handler through `NIOAsyncChannel` and writes the
/// answer back through it; for a 4 KiB GET that costs more than the GET itself (measured against
/// a plain SwiftNIO server on this machine kind: bench/PROFILE.md, session 11), and a PUT's body
/// crosses the same way. The handler sits right after NIO's HTTP/1 decoder, before the
/// conversion to HTTP types and Hummingbird's handlers: its answers go to NIO's encoder as they
/// are made (the conversion both ways and the trips through those handlers cost a small GET as
/// much as its signature check: bench/PROFILE.md, session 17).
///
/// Answers leave in request order:
/// - a request is taken here only while no earlier request of the connection is still being
///   answered by Hummingbird;
/// - while a write taken here awaits its commit, what arrives after it (request parts, inbound
///   events, errors) waits here, in order, and the connection is not read further; then it is
///   handled as if it had just arrived.
///
/// A GET or HEAD is held until its end shows it has no body. A PUT whose declared length is
/// within the responder's limit (and that does not wait for `100 Continue`) is held with its
/// body until its end; a write declined then, or given back after a failed commit, passes on
/// whole (head, body, end) to Hummingbird.
///
/// Hummingbird's connection state handler, after this one, sees only the requests passed on;
/// so the idle timeout is kept here, for every request, as that handler keeps it: the
/// connection closes once nothing was read or answered for `idleTimeout`, unless an answer is
/// still being made for a request read whole, or an answer's file is still being sent. Once the
/// server asks connections to quiesce, every request passes on, so that the state handler closes
/// the connection after its answer; inbound events (that one among them) reach the state handler
/// only once the files being sent are sent.
final class ImmediateRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// A request kept here: its head and the body so far.
    private struct Held {
        var head: HTTPRequestHead
        var body: ByteBuffer?
    }

    /// What arrived while a write was in flight.
    private enum Arrival {
        case part(HTTPServerRequestPart)
        case event(Any)
        case error(any Error)
    }

    private let responder: any ImmediateResponder
    private let writeLimit: Int
    /// The requests in progress on this connection's event loop (the writes taken here count
    /// while their commit runs; Hummingbird's requests are counted after the conversion).
    private let load: LoopLoad
    private let idleTimeout: TimeAmount?
    /// Whether answers may carry open files, sent with `sendfile` (not through TLS).
    private let sendsFiles: Bool
    /// Answers here whose file is still being sent.
    private var sendingFiles = 0
    /// Inbound events that arrived while a file was being sent: they go on once the last file
    /// is sent, so that Hummingbird's state handler, which closes the connection on some of
    /// them (asked to quiesce, input closed), does not cut a file short.
    private var eventsAfterFiles: [Any] = []
    /// Requests passed on whose answers have not been fully written.
    private var passedOn = 0
    /// A request kept until its end shows whether it can be answered here.
    private var held: Held?
    /// The write taken here whose commit has not ended.
    private var writing: Held?
    /// Parts and events that arrived while `writing` was set, in order.
    private var arrived = CircularBuffer<Arrival>()
    /// A read the pipeline asked for while `writing` was set.
    private var readDeferred = false
    /// False once the handler left the pipeline (the connection closed): a write that ends
    /// then has no one to answer.
    private var inPipeline = true
    /// Set once the server asked the connection to quiesce: nothing more is taken here.
    private var quiescing = false
    /// A request's head was read and its end not yet.
    private var reading = false
    /// When a request part was last read or an answer last ended.
    private var lastActive = NIODeadline.uptimeNanoseconds(0)
    /// The pending check of the idle timeout.
    private var idleCheck: Scheduled<Void>?
    /// Something was passed on since the last end of a read: Hummingbird takes what it was
    /// given at the end of a read, and has nothing to take otherwise.
    private var passedSinceReadComplete = false
    /// The `Date` header of the current second.
    private var date: (second: Int, value: String) = (0, "")

    init(responder: any ImmediateResponder, load: LoopLoad, idleTimeout: TimeAmount? = nil, sendsFiles: Bool = false) {
        self.responder = responder
        self.load = load
        self.writeLimit = responder.immediateWriteLimit
        self.idleTimeout = idleTimeout
        self.sendsFiles = sendsFiles
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { touch(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        touch(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head: reading = true
        case .body: break
        case .end: reading = false
        }
        touch(context: context)
        if writing != nil {
            arrived.append(.part(part))
        } else {
            handle(part, context: context)
        }
    }

    /// The end of a read goes on only when something read was passed on: a read whose requests
    /// were all answered here would wake NIO's async channel behind Hummingbird for nothing.
    func channelReadComplete(context: ChannelHandlerContext) {
        if passedSinceReadComplete {
            passedSinceReadComplete = false
            context.fireChannelReadComplete()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // A request waiting here for its end goes on, so that the state handler waits for it.
            if writing == nil, let request = held {
                held = nil
                passOn(request, ended: false, context: context)
            }
        }
        // An input closed after a PUT must not reach Hummingbird before that PUT's answer.
        if writing != nil {
            arrived.append(.event(event))
        } else if sendingFiles > 0 {
            eventsAfterFiles.append(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A decoding error after a PUT must not end the connection before that PUT's answer.
        if writing != nil {
            arrived.append(.error(error))
        } else {
            context.fireErrorCaught(error)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        inPipeline = false
        arrived.removeAll()
        eventsAfterFiles.removeAll()
        idleCheck?.cancel()
        idleCheck = nil
    }

    func read(context: ChannelHandlerContext) {
        if writing != nil {
            readDeferred = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 {
            passedOn -= 1
            touch(context: context)
        }
        context.write(data, promise: promise)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            if passedOn == 0 && takes(head) {
                held = Held(head: head)
                return
            }
            passedOn += 1
        case .body(let buffer):
            if var request = held {
                held = nil
                if request.head.method == .PUT && (request.body?.readableBytes ?? 0) + buffer.readableBytes <= writeLimit {
                    if request.body == nil {
                        request.body = buffer
                    } else {
                        request.body!.writeImmutableBuffer(buffer)
                    }
                    held = request
                    return
                }
                passOn(request, ended: false, context: context)
            }
        case .end:
            if let request = held {
                held = nil
                if request.head.method == .PUT {
                    if startWrite(request, context: context) { return }
                } else if let made = responder.immediateAnswer(to: request.head, sendingFiles: sendsFiles) {
                    write(made, context: context)
                    return
                }
                passOn(request, ended: false, context: context)
            }
        }
        passedSinceReadComplete = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// Whether a request head may be answered here, once its end arrives.
    private func takes(_ head: HTTPRequestHead) -> Bool {
        guard !quiescing, head.version == .http1_1 else { return false }
        if head.method == .GET || head.method == .HEAD { return true }
        let headers = head.headers
        guard head.method == .PUT, writeLimit > 0,
              let length = headers.first(name: "content-length").flatMap(Int.init), length <= writeLimit
        else { return false }
        // A client waiting for `100 Continue` sends no body until the regular path reads it.
        return !headers.contains(name: "expect") && !headers.contains(name: HTTPField.Name.mediagateContinue.rawName)
            && !headers.contains(name: "transfer-encoding")
    }

    /// Passes a held request on to Hummingbird: its head, its body so far, and its end if
    /// `ended` (else the caller passes on what follows).
    private func passOn(_ request: Held, ended: Bool, context: ChannelHandlerContext) {
        passedOn += 1
        passedSinceReadComplete = true
        context.fireChannelRead(wrapInboundOut(.head(request.head)))
        if let body = request.body { context.fireChannelRead(wrapInboundOut(.body(body))) }
        if ended { context.fireChannelRead(wrapInboundOut(.end(nil))) }
    }

    private func startWrite(_ request: Held, context: ChannelHandlerContext) -> Bool {
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        writing = request
        // No other request in progress on the loop: the commit may run right here.
        let quiet = load.requests.load(ordering: .relaxed) == 0
        load.requests.add(1, ordering: .relaxed)
        let started = responder.immediateWrite(request.head, body: request.body ?? ByteBuffer(), quiet: quiet) { answer in
            loop.execute { bound.value.handler.writeEnded(answer, context: bound.value.context) }
        }
        if !started {
            writing = nil
            load.requests.subtract(1, ordering: .relaxed)
        }
        return started
    }

    /// A write taken here ended: its answer goes out (or the request to Hummingbird), then what
    /// arrived meanwhile is handled.
    private func writeEnded(_ answer: ImmediateAnswer?, context: ChannelHandlerContext) {
        load.requests.subtract(1, ordering: .relaxed)
        guard let request = writing else { return }
        writing = nil
        guard inPipeline && context.channel.isActive else {
            arrived.removeAll()
            return
        }
        if let answer {
            write(answer, context: context)
        } else {
            passOn(request, ended: true, context: context)
        }
        while writing == nil, inPipeline, let next = arrived.popFirst() {
            switch next {
            case .part(let part): handle(part, context: context)
            case .event(let event): context.fireUserInboundEventTriggered(event)
            case .error(let error): context.fireErrorCaught(error)
            }
        }
        // Hummingbird takes what it was given at the end of a read.
        passedSinceReadComplete = false
        context.fireChannelReadComplete()
        if writing == nil && readDeferred {
            readDeferred = false
            context.read()
        }
    }

    private func write(_ made: ImmediateAnswer, context: ChannelHandlerContext) {
        var head = made.head
        // The responder's answers carry no `Date`.
        head.headers.add(name: "Date", value: currentDate())
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        switch made.body {
        case nil:
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .inline(let bytes):
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .file(let file, let size):
            // A file answer is being sent until its end is written (or fails, the connection
            // gone): the idle timeout waits for it, and the file is closed then.
            sendingFiles += 1
            let region = FileRegion(fileHandle: file, readerIndex: 0, endIndex: Int(size))
            context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
            let sent = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: sent)
            sent.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { _ in
                try? file.close()
                self.sendingFiles -= 1
                guard self.inPipeline else { return }
                self.touch(context: context)
                if self.sendingFiles == 0 { self.releaseEventsAfterFiles(context: context) }
            }
        }
        touch(context: context)
    }

    /// The events held while files were being sent go on, or, while a write awaits its commit,
    /// wait before what arrived since it started (they arrived earlier).
    private func releaseEventsAfterFiles(context: ChannelHandlerContext) {
        let events = eventsAfterFiles
        eventsAfterFiles.removeAll()
        if writing != nil {
            for event in events.reversed() { arrived.prepend(.event(event)) }
        } else {
            for event in events { context.fireUserInboundEventTriggered(event) }
        }
    }

    /// The `Date` header, formatted once a second.
    private func currentDate() -> String {
        let now = Date()
        let second = Int(now.timeIntervalSince1970)
        if second != date.second { date = (second, HTTPDate.rfc1123(now)) }
        return date.value
    }

    // MARK: Idle timeout

    /// Notes activity now, and makes sure a check of the idle timeout is pending.
    private func touch(context: ChannelHandlerContext) {
        guard let idleTimeout else { return }
        lastActive = context.eventLoop.now
        if idleCheck == nil { scheduleIdleCheck(at: lastActive + idleTimeout, context: context) }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleCheck = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) {
            self.idleCheckDue(context: context)
        }
    }

    /// Closes the connection if it was idle for the whole timeout. An answer being made for a
    /// request read whole (one passed on, or a write awaiting its commit), or a file of an answer
    /// still being sent, keeps it open: the end of that answer notes activity and schedules the
    /// next check.
    private func idleCheckDue(context: ChannelHandlerContext) {
        idleCheck = nil
        guard let idleTimeout, inPipeline, context.channel.isActive else { return }
        if !reading && (passedOn > 0 || writing != nil || sendingFiles > 0) { return }
        let deadline = lastActive + idleTimeout
        if context.eventLoop.now >= deadline {
            context.close(promise: nil)
        } else {
            scheduleIdleCheck(at: deadline, context: context)
        }
    }
}
