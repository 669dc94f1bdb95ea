import Dispatch
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Storage
import Synchronization

/// Runs a connection's handler on its own event loop while that loop has no other request in
/// progress, and on dispatch's threads otherwise.
///
/// Hummingbird handles each connection in a task of Swift's cooperative pool, so every request
/// crosses threads twice (event loop → pool → event loop). For a lone request that is pure
/// latency: running every handler on its loop took sequential 4 KiB GETs from 3,750 to
/// 4,550–5,260/s. With many requests per loop it cost throughput: the loop, running every
/// handler itself, wrote each answer as it was made and the client woke for each, and 4 KiB
/// GETs at 16 and 64 connections fell by 21–37% (bench/PROFILE.md, session 8). So the choice
/// is made per job, from the number of requests the loop has in progress at that moment.
///
/// Jobs sent away still run as jobs of this executor, so the runtime does not move them back.
/// The executor is also published as `RequestExecutor.current`, so that a task the handler
/// starts and awaits (the disk store's commit) runs where the handler runs: one thread
/// hand-off each way fewer per PUT.
/// Blocking work must not run under this executor: the gateway's (file writes and syncs, image
/// derivation, SQLite commits, listings) runs on thread pools and queues of its own.
final class QuietLoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop
    let load: LoopLoad
    /// Jobs run on the loop while it has fewer requests in progress than this.
    let quietBelow: Int

    init(eventLoop: any EventLoop, load: LoopLoad, quietBelow: Int) {
        self.eventLoop = eventLoop
        self.load = load
        self.quietBelow = quietBelow
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if load.requests.load(ordering: .relaxed) < quietBelow {
            eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        } else {
            DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }
}

/// The requests one event loop has in progress: heads read whose answers are not fully
/// written yet.
final class LoopLoad: Sendable {
    let requests = Atomic<Int>(0)
}

/// One ``LoopLoad`` per event loop, made on first use.
final class LoopLoads: Sendable {
    private let table = Mutex<[ObjectIdentifier: LoopLoad]>([:])

    func load(of loop: any EventLoop) -> LoopLoad {
        table.withLock { table in
            let id = ObjectIdentifier(loop)
            if let found = table[id] { return found }
            let made = LoopLoad()
            table[id] = made
            return made
        }
    }
}

/// Counts a connection's requests into its loop's ``LoopLoad``: one from the request head
/// until the end of its answer is written (or the connection closes).
final class RequestLoadCounter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let loads: LoopLoads
    private var load: LoopLoad?
    /// This connection's requests counted and not yet answered.
    private var open = 0

    init(loads: LoopLoads) {
        self.loads = loads
    }

    func handlerAdded(context: ChannelHandlerContext) {
        load = loads.load(of: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release(open)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            open += 1
            load?.requests.add(1, ordering: .relaxed)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), open > 0 { release(1) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release(open)
        context.fireChannelInactive()
    }

    private func release(_ count: Int) {
        guard count > 0 else { return }
        open -= count
        load?.requests.subtract(count, ordering: .relaxed)
    }
}

/// A server child channel whose connections run their handlers under a ``QuietLoopExecutor``.
struct QuietLoopChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let loads: LoopLoads
    let quietBelow: Int
    /// Requests answered in the pipeline (``ImmediateRequestHandler``); nil: none.
    let immediate: (any ImmediateResponder)?
    /// The idle timeout, kept by the ``ImmediateRequestHandler`` (with `immediate` only).
    let idleTimeout: TimeAmount?
    /// Whether `immediate`'s answers may carry open files (sent with `sendfile`).
    let sendsFiles: Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let set = base.setup(channel: channel, logger: logger)
        return set.flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            guard let codec = try HTTPTypesServerCodec.replaceNIOCodec(in: pipeline), let immediate else { return value }
            // Right after NIO's decoder: its answers skip the conversion to HTTP types.
            let handler = ImmediateRequestHandler(
                responder: immediate, load: loads.load(of: channel.eventLoop), idleTimeout: idleTimeout, sendsFiles: sendsFiles)
            try pipeline.addHandler(handler, position: .before(codec))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        let loop = value.channel.eventLoop
        let executor = QuietLoopExecutor(eventLoop: loop, load: loads.load(of: loop), quietBelow: quietBelow)
        await RequestExecutor.$current.withValue(executor) {
            await withTaskExecutorPreference(executor) {
                await base.handle(value: value, logger: logger)
            }
        }
    }
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1 server, with handlers run on their connection's event loop while
    /// it has fewer than `quietBelow` requests in progress (see ``QuietLoopExecutor``).
    /// With `immediate`, the requests it can answer without a per-request task are answered in
    /// the channel pipeline (``ImmediateRequestHandler``); with `sendsFiles` too, their answers
    /// may send a file with `sendfile`, which a channel that encrypts (TLS) cannot take.
    public static func http1(
        configuration: HTTP1Channel.Configuration, quietBelow: Int, immediate: (any ImmediateResponder)? = nil,
        sendsFiles: Bool = false
    ) -> HTTPServerBuilder {
        let loads = LoopLoads()
        var configuration = configuration
        let others = configuration.additionalChannelHandlers
        configuration.additionalChannelHandlers = { others() + [RequestLoadCounter(loads: loads)] }
        // Hummingbird's state handler does not see the requests answered in the pipeline: the
        // idle timeout moves to the handler that sees them all.
        let idleTimeout = immediate == nil ? nil : configuration.idleTimeout
        if immediate != nil { configuration.idleTimeout = nil }
        return .init { [configuration] responder in
            QuietLoopChannel(
                base: HTTP1Channel(responder: responder, configuration: configuration), loads: loads, quietBelow: quietBelow,
                immediate: immediate, idleTimeout: idleTimeout, sendsFiles: sendsFiles)
        }
    }
}
