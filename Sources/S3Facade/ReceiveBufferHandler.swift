import NIOCore
import NIOHTTPTypes

/// Lets a connection read up to ``maximum`` bytes per socket read instead of NIO's default
/// 64 KiB. A large upload then arrives in a quarter as many reads, each one a system call and
/// a hand-off through the HTTP decoder and the body stream to the handler's task: the server
/// spent 2.4–2.6 s of CPU on a 1 GiB PUT with 64 KiB reads and 1.9–2.1 s with 256 KiB ones,
/// leaving the second core to MD5 (bench/PROFILE.md, session 7).
///
/// The allocator stays adaptive: it starts at 2 KiB and grows only while reads fill their
/// buffer, so small requests read as before. Install one per connection through the HTTP/1
/// channel's `additionalChannelHandlers`; it only sets the option and passes everything on.
public final class ReceiveBufferHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart

    /// The largest read by default: with the bodies a read holds queued for hashing (a few MiB
    /// per upload, see `PipelinedDigester`), a larger read buffer saved little more CPU.
    public static let defaultMaximum = 256 << 10

    /// The largest read, in bytes.
    public let maximum: Int

    public init(maximum: Int = ReceiveBufferHandler.defaultMaximum) {
        self.maximum = maximum
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: maximum)
        // A channel that has no such option (an embedded one in tests) keeps its own reads.
        try? context.channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: allocator)
    }
}
