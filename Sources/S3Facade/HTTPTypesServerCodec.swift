import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Converts between NIO's HTTP/1 parts and HTTP types parts, as NIO's `HTTP1ToHTTPServerCodec`
/// (which Hummingbird puts in each connection's pipeline, and which this replaces) does, with
/// one shortcut: a request target in origin form (it starts with `/`, as every S3 client
/// sends) becomes the request's path as it is. NIO's conversion gives the same path, but only
/// after parsing the target as a URL to look for a scheme (an absolute-form target has one;
/// an origin-form target cannot): 2.3% of a small GET's CPU (bench/PROFILE.md, session 13).
/// Other targets take NIO's conversion.
final class HTTPTypesServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                context.fireChannelRead(wrapInboundOut(.head(try Self.request(head))))
            } catch {
                context.fireErrorCaught(error)
            }
        case .body(let body):
            context.fireChannelRead(wrapInboundOut(.body(body)))
        case .end(let trailers):
            context.fireChannelRead(wrapInboundOut(.end(trailers.map { HTTPFields($0, splitCookie: false) })))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            context.write(wrapOutboundOut(.head(HTTPResponseHead(response))), promise: promise)
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
        case .end(let trailers):
            context.write(wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: promise)
        }
    }

    /// The request of a head received over plain HTTP, with cookies not split (Hummingbird's
    /// settings for NIO's codec).
    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard head.uri.utf8.first == UInt8(ascii: "/") else {
            return try HTTPRequest(head, secure: false, splitCookie: false)
        }
        return HTTPRequest(
            method: try HTTPRequest.Method(head.method), scheme: "http", authority: head.headers["Host"].first,
            path: head.uri, headerFields: HTTPFields(head.headers, splitCookie: false))
    }

    /// Puts this codec in place of NIO's in `pipeline`; leaves a pipeline without NIO's codec
    /// as it is.
    /// - Returns: The codec put in; nil for a pipeline without NIO's.
    @discardableResult
    static func replaceNIOCodec(in pipeline: ChannelPipeline.SynchronousOperations) throws -> HTTPTypesServerCodec? {
        guard let nio = try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self) else { return nil }
        let codec = HTTPTypesServerCodec()
        try pipeline.addHandler(codec, position: .after(nio.handler))
        pipeline.removeHandler(context: nio, promise: nil)
        return codec
    }
}
