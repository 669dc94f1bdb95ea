import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Testing

@testable import S3Facade

/// The codec that replaces NIO's HTTP/1 to HTTP types codec in each connection's pipeline.
@Suite("HTTPTypesServerCodec")
struct HTTPTypesServerCodecTests {
    /// Targets of every form, with characters a URL parser rejects or rewrites.
    static let targets = [
        "/", "/bucket", "/bucket/key", "/bucket/a%20b/c?x-id=GetObject&X-Amz-Signature=ab", "//bucket//key", "/?list-type=2",
        "/b/k?%zz", "/b/k with space", "/b/ünï", "/b/k#fragment", "/b/../k", "/b/k?a=1&a=2&=",
        "http://example.com/b/k?x=1", "https://h:9000/b", "*", "b/k", "example.com:443",
    ]

    @Test(arguments: targets, [HTTPMethod.GET, .PUT, .HEAD])
    func requestsAreWhatNIOsConversionMakes(target: String, method: HTTPMethod) throws {
        var headers = HTTPHeaders([("Host", "127.0.0.1:9000"), ("X-Amz-Date", "20261124T000000Z"), ("Cookie", "a=1; b=2")])
        headers.add(name: "x-amz-meta-Two", value: "2")
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
        let ours = try HTTPTypesServerCodec.request(head)
        let nio = try HTTPRequest(head, secure: false, splitCookie: false)
        #expect(ours == nio)
        #expect(ours.headerFields == nio.headerFields)
    }

    /// Header sets around the Host and Cookie handling NIO's conversion does (the first Host
    /// becomes the authority and is dropped from the fields; cookies are not split).
    static let headerSets: [[(String, String)]] = [
        [],
        [("host", "lower.example:1")],
        [("Host", "first"), ("Host", "second")],
        [("X-A", "1"), ("HOST", "upper"), ("x-a", "2")],
        [("Host", "h"), ("Cookie", "a=1; b=2"), ("Cookie", "c=3"), ("Set-Cookie", "d=4")],
        [("Host", "h"), ("Content-Length", "0"), ("Transfer-Encoding", "chunked"), ("Expect", "100-continue")],
    ]

    @Test(arguments: headerSets.indices, ["/b/k?x=1", "http://other/b/k"])
    func headersAreWhatNIOsConversionMakes(set: Int, target: String) throws {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: HTTPHeaders(Self.headerSets[set]))
        let ours = try HTTPTypesServerCodec.request(head)
        let nio = try HTTPRequest(head, secure: false, splitCookie: false)
        #expect(ours == nio)
        #expect(ours.authority == nio.authority)
        #expect(Array(ours.headerFields) == Array(nio.headerFields))
    }

    @Test
    func anUnknownMethodFailsAsInNIO() {
        let head = HTTPRequestHead(version: .http1_1, method: .RAW(value: "BAD METHOD"), uri: "/", headers: ["Host": "h"])
        #expect(throws: (any Error).self) { try HTTPTypesServerCodec.request(head) }
        #expect(throws: (any Error).self) { try HTTPRequest(head, secure: false, splitCookie: false) }
    }

    /// In a pipeline: NIO's codec is taken out, this one put in its place, and parts pass
    /// both ways.
    @Test
    func replacesNIOsCodecInAPipeline() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try HTTPTypesServerCodec.replaceNIOCodec(in: pipeline)
        #expect((try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self)) == nil)
        #expect((try? pipeline.context(handlerType: HTTPTypesServerCodec.self)) != nil)

        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/b/k?x=1", headers: ["Host": "h", "A": "1"])
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "xy")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        let parts = try [channel.readInbound(as: HTTPRequestPart.self), channel.readInbound(as: HTTPRequestPart.self),
                         channel.readInbound(as: HTTPRequestPart.self)]
        #expect(parts == [
            .head(HTTPRequest(method: .get, scheme: "http", authority: "h", path: "/b/k?x=1", headerFields: [HTTPField.Name("A")!: "1"])),
            .body(ByteBuffer(string: "xy")), .end(nil),
        ])

        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok, headerFields: [.contentLength: "2"])))
        try channel.writeOutbound(HTTPResponsePart.body(ByteBuffer(string: "ok")))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        let out = try [channel.readOutbound(as: HTTPServerResponsePart.self), channel.readOutbound(as: HTTPServerResponsePart.self),
                       channel.readOutbound(as: HTTPServerResponsePart.self)]
        #expect(out == [
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])),
            .body(.byteBuffer(ByteBuffer(string: "ok"))), .end(nil),
        ])
    }

    /// A pipeline without NIO's codec is left as it is.
    @Test
    func leavesAPipelineWithoutNIOsCodecAlone() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try HTTPTypesServerCodec.replaceNIOCodec(in: channel.pipeline.syncOperations)
        #expect((try? channel.pipeline.syncOperations.context(handlerType: HTTPTypesServerCodec.self)) == nil)
    }
}
