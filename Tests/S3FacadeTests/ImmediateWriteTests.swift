import DiskStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import Integrity
import NIOCore
import NIOPosix
import Policy
import PolicyStore
import S3Facade
import SigV4
import Storage
import Testing

/// Small PUTs committed from the event loop (`S3Gateway.immediateWrite`,
/// `ImmediateRequestHandler`) over a disk store and SQLite files: the same outcome as the
/// regular path, or the request left to it.
struct ImmediateWriteTests {
    typealias Stack = ImmediateReadTests.Stack

    /// What `immediateWrite` did with a request: declined it (nil), or started it and answered
    /// (`.some(answer)`, where a nil answer gives the request back to the regular path).
    static func write(_ gateway: S3Gateway, _ request: HTTPRequest, _ body: [UInt8], quiet: Bool = false) async -> TypedAnswer?? {
        guard let head = nioHead(request) else { return nil }
        return await withCheckedContinuation { continuation in
            let started = gateway.immediateWrite(head, body: ByteBuffer(bytes: body), quiet: quiet) { answer in
                continuation.resume(returning: .some(answer.flatMap(TypedAnswer.init)))
            }
            if !started { continuation.resume(returning: .none) }
        }
    }

    /// A PUT head with its Content-Length: a presigned target, or header-signed with the
    /// body's SHA-256 (or that of `signed`) and the `extra` headers signed.
    static func put(
        _ client: SignedClient, _ target: String, body: [UInt8], presigned: Bool, extra: [(String, String)] = [],
        payloadOf signed: [UInt8]? = nil
    ) -> HTTPRequest {
        let extra = [("content-length", "\(body.count)")] + extra
        if presigned { return ImmediateReadTests.head(client, .put, target, presigned: true, extra: extra) }
        let (rawPath, rawQuery) = SignedClient.split(target)
        let added = client.signer.sign(
            method: "PUT", rawPath: rawPath, rawQuery: rawQuery, headers: [("host", "localhost")] + extra,
            payload: .sha256(hex: SigV4Encoding.sha256Hex(signed ?? body)), date: client.date)
        var fields = HTTPFields()
        for (name, value) in extra + added { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return HTTPRequest(method: .put, scheme: nil, authority: "localhost", path: target, headerFields: fields)
    }

    /// Headers of a GET that must match between two objects written the same way.
    static func stored(_ fields: HTTPFields) -> [String: String] {
        ImmediateReadTests.comparable(fields).filter { $0.key != "last-modified" }
    }

    @Test func commitsAsTheRegularPathDoes() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        let body = Array("a postcard from the coast".utf8)
        var digester = BodyDigester(md5: true, sha256: false, checksum: .crc32)
        digester.update(body)
        let digests = digester.finalize()
        let md5 = try #require(digests.md5Base64)
        let crc = try #require(digests.checksum?.base64)
        try await Application(responder: stack.gateway).test(.router) { client in
            let s3 = SignedClient(client: client)
            #expect(try await s3.send(.put, "/photos").status == .ok)
            let cases: [(String, Bool, [(String, String)])] = [
                ("presigned", true, []),
                ("header-signed", false, []),
                ("content-md5", false, [("content-md5", md5)]),
                ("checksum", false, [("x-amz-checksum-crc32", crc)]),
                ("attributes", false, [("content-type", "text/plain"), ("x-amz-meta-trip", "lisbon"), ("cache-control", "max-age=60")]),
                ("empty", true, []),
            ]
            for (index, (name, presigned, extra)) in cases.enumerated() {
                let bytes = name == "empty" ? [] : body
                let head = Self.put(s3, "/photos/now/\(name)", body: bytes, presigned: presigned, extra: extra)
                let outcome = await Self.write(stack.gateway, head, bytes, quiet: index % 2 == 0)
                let answer = try #require(outcome ?? nil, "\(name)")
                let other = Self.put(s3, "/photos/regular/\(name)", body: bytes, presigned: presigned, extra: extra)
                let regular = try await client.execute(
                    uri: other.path!, method: .put, headers: other.headerFields, body: bytes.isEmpty ? nil : ByteBuffer(bytes: bytes))
                #expect(regular.status == .ok, "\(name)")
                #expect(answer.head.status == regular.status)
                #expect(ImmediateReadTests.comparable(answer.head.headerFields) == ImmediateReadTests.comparable(regular.headers), "\(name)")
                #expect(answer.head.headerFields[HTTPField.Name("x-amz-request-id")!]?.count == 16)
                #expect(answer.body == nil)

                let written = try await s3.send(.get, "/photos/now/\(name)", headers: [("x-amz-checksum-mode", "ENABLED")])
                let reference = try await s3.send(.get, "/photos/regular/\(name)", headers: [("x-amz-checksum-mode", "ENABLED")])
                #expect(written.status == .ok)
                #expect(Array(written.body.readableBytesView) == bytes, "\(name)")
                #expect(Self.stored(written.headers) == Self.stored(reference.headers), "\(name)")
            }
            let list = try await s3.send(.get, "/photos?list-type=2&prefix=now/")
            #expect(list.text.components(separatedBy: "<Key>").count - 1 == cases.count)
        }
    }

    @Test func leavesEverythingElseToTheRegularPath() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        let body = Array("0123456789".utf8)
        try await Application(responder: stack.gateway).test(.router) { client in
            let s3 = SignedClient(client: client)
            #expect(try await s3.send(.put, "/photos").status == .ok)
            #expect(try await s3.send(.put, "/photos/source", body: body).status == .ok)
            // The plain PUT is taken, so each refusal below comes from what differs.
            #expect(await Self.write(stack.gateway, Self.put(s3, "/photos/taken", body: body, presigned: true), body) != nil)
            let large = [UInt8](repeating: 7, count: stack.gateway.immediateWriteLimit + 1)
            let otherMD5 = Base64.encode(Array(repeating: 0, count: 16))
            let wrongHash = Self.put(s3, "/photos/declined/hash", body: body, presigned: false, payloadOf: Array("other".utf8))
            var noLength = Self.put(s3, "/photos/declined/length", body: body, presigned: true)
            noLength.headerFields[.contentLength] = nil
            var otherHost = Self.put(s3, "/photos/declined/host", body: body, presigned: true)
            otherHost.authority = "example.com"
            var get = Self.put(s3, "/photos/declined/get", body: body, presigned: true)
            get.method = .get
            let streamed: HTTPRequest = {
                let added = s3.signer.sign(
                    method: "PUT", rawPath: "/photos/declined/streamed", rawQuery: "", headers: [("host", "localhost")],
                    payload: .streamingUnsignedTrailer, date: s3.date)
                var fields: HTTPFields = [.contentLength: "\(body.count)"]
                fields[HTTPField.Name("x-amz-decoded-content-length")!] = "\(body.count)"
                fields[HTTPField.Name("content-encoding")!] = "aws-chunked"
                for (name, value) in added { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
                return HTTPRequest(method: .put, scheme: nil, authority: "localhost", path: "/photos/declined/streamed", headerFields: fields)
            }()
            let declined: [(String, HTTPRequest, [UInt8])] = [
                ("copy", Self.put(s3, "/photos/declined/copy", body: [], presigned: true, extra: [("x-amz-copy-source", "/photos/source")]), []),
                ("part", Self.put(s3, "/photos/declined/part?partNumber=1&uploadId=abc", body: body, presigned: true), body),
                ("if-none-match", Self.put(s3, "/photos/declined/inm", body: body, presigned: true, extra: [("if-none-match", "*")]), body),
                ("if-match", Self.put(s3, "/photos/declined/im", body: body, presigned: true, extra: [("if-match", "\"x\"")]), body),
                ("expect", Self.put(s3, "/photos/declined/expect", body: body, presigned: true, extra: [("expect", "100-continue")]), body),
                ("connection close", Self.put(s3, "/photos/declined/close", body: body, presigned: true, extra: [("connection", "close")]), body),
                ("aws-chunked", streamed, body),
                ("a source", Self.put(s3, "/photos/declined/trip/original.jpg", body: body, presigned: true), body),
                ("too large", Self.put(s3, "/photos/declined/large", body: large, presigned: true), large),
                ("wrong content-md5", Self.put(s3, "/photos/declined/md5", body: body, presigned: true, extra: [("content-md5", otherMD5)]), body),
                ("wrong payload hash", wrongHash, body),
                ("bad checksum", Self.put(s3, "/photos/declined/crc", body: body, presigned: false, extra: [("x-amz-checksum-crc32", "AAAAAA==")]), body),
                ("no content-length", noLength, body),
                ("other host", otherHost, body),
                ("not a PUT", get, body),
                ("unsigned", HTTPRequest(method: .put, scheme: nil, authority: "localhost", path: "/photos/declined/unsigned",
                                         headerFields: [.contentLength: "\(body.count)"]), body),
                ("control", HTTPRequest(method: .put, scheme: nil, authority: "localhost", path: "/_mediagate/v1/tenants/x",
                                        headerFields: [.contentLength: "\(body.count)"]), body),
                ("wrong secret", Self.put(
                    s3.signing(as: SigV4Credentials(accessKeyID: GatewayHarness.credentials.accessKeyID, secretAccessKey: "not-the-secret")),
                    "/photos/declined/secret", body: body, presigned: true), body),
            ]
            for (reason, head, bytes) in declined {
                #expect(await Self.write(stack.gateway, head, bytes) == nil, "\(reason)")
            }
            // Nothing was written by a declined request.
            let list = try await s3.send(.get, "/photos?list-type=2&prefix=declined/")
            #expect(list.status == .ok)
            #expect(!list.text.contains("<Key>"), "\(list.text)")
        }
    }

    @Test func tenantsAndConsentsAreChecked() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        let acme = try await stack.addTenant("acme")
        let jpeg = Stack.jpeg
        try await Application(responder: stack.gateway).test(.router) { client in
            let root = SignedClient(client: client)
            let tenant = root.signing(as: acme)
            #expect(try await root.send(.put, "/media").status == .ok)
            // The regular path fills the policy cache.
            #expect(try await tenant.send(.put, "/media/acme/first", body: [1]).status == .ok)
            let inside = await Self.write(stack.gateway, Self.put(tenant, "/media/acme/x", body: [2], presigned: true), [2])
            #expect(inside??.head.status == .ok)
            #expect(await Self.write(stack.gateway, Self.put(tenant, "/media/bolt/x", body: [2], presigned: true), [2]) == nil)
            #expect(try await tenant.send(.put, "/media/bolt/x", body: [2]).status == .forbidden)

            // A selfie needs a consent, looked up on every write: only the regular path writes it.
            let consent = ConsentKey(tenant: "acme", subject: "u1", purpose: "biometric_processing")
            try await stack.policy.grantConsent(consent, until: nil, at: Date())
            let selfie = "/media/acme/selfies/u1/a.jpg"
            let selfieHead = Self.put(root, selfie, body: jpeg, presigned: true, extra: [("content-type", "image/jpeg")])
            #expect(await Self.write(stack.gateway, selfieHead, jpeg) == nil)
            #expect(try await root.send(.put, selfie, headers: [("content-type", "image/jpeg")], body: jpeg).status == .ok)

            // A removed tenant's key stops at the next request on this path too.
            #expect(try await stack.policy.removeTenant(named: "acme"))
            #expect(await Self.write(stack.gateway, Self.put(tenant, "/media/acme/y", body: [3], presigned: true), [3]) == nil)
            #expect(try await tenant.send(.put, "/media/acme/y", body: [3]).status == .forbidden)
            #expect(try await root.send(.head, "/media/acme/y").status == .notFound)
        }
    }

    @Test func aFailedCommitGoesBackToTheRegularPath() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        let body = Array("lost".utf8)
        try await Application(responder: stack.gateway).test(.router) { client in
            let s3 = SignedClient(client: client)
            // The regular path fills the policy cache.
            #expect(try await s3.send(.get, "/").status == .ok)
            // The bucket is checked in the commit's transaction, so the write starts, fails and
            // is given back; the regular path then answers NoSuchBucket.
            for quiet in [false, true] {
                let outcome = await Self.write(stack.gateway, Self.put(s3, "/nobucket/a", body: body, presigned: true), body, quiet: quiet)
                let answer = try #require(outcome)
                #expect(answer == nil)
            }
            let regular = try await s3.send(.put, "/nobucket/a", body: body)
            #expect(regular.status == .notFound)
            #expect(regular.xmlValue("Code") == "NoSuchBucket")
        }
    }

    @Test func theReplacedVersionsFileIsGoneBeforeTheAnswer() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        let blobs = stack.directory.appendingPathComponent("objects/blobs")
        try await Application(responder: stack.gateway).test(.router) { client in
            let s3 = SignedClient(client: client)
            let created = try await s3.send(.put, "/photos")
            #expect(created.status == .ok)
            let large = [UInt8](repeating: 9, count: Int(DiskObjectStore.defaultInlineLimit) + 1)
            let first = try await s3.send(.put, "/photos/k", body: large)
            #expect(first.status == .ok)
            let before = try Self.fileCount(under: blobs)
            #expect(before == 1)
            let small = Array("small now".utf8)
            let answer = await Self.write(stack.gateway, Self.put(s3, "/photos/k", body: small, presigned: true), small, quiet: true)
            #expect(answer??.head.status == .ok)
            let after = try Self.fileCount(under: blobs)
            #expect(after == 0)
            let read = try await s3.send(.get, "/photos/k")
            #expect(read.text == "small now")
        }
    }

    /// The live server, one connection, bytes sent in steps: a small PUT that waits for
    /// `100 Continue` goes to Hummingbird (here it would wait for a body forever); a small PUT
    /// whose body comes in two reads is taken here.
    @Test func liveServerTakesBodiesInPiecesAndLeavesExpectContinue() async throws {
        let registry = ContinueRegistry()
        let stack = try await Stack(continueRegistry: registry)
        defer { stack.remove() }
        try await stack.live(.init(additionalChannelHandlers: [ExpectContinueHandler(registry: registry)])) { client, counting in
            let s3 = SignedClient(client: client)
            #expect(try await s3.send(.put, "/photos").status == .ok)
            let port = try #require(client.port)
            let expecting = s3.presigned(.put, "/photos/expecting", expires: 300)
            let pieces = s3.presigned(.put, "/photos/pieces", expires: 300)
            let replies = try await ImmediateReadTests.converse(port: port, steps: [
                ("PUT \(expecting) HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
                 { $0.contains("100 Continue") }),
                ("abcd", { $0.contains("200 OK") }),
                ("PUT \(pieces) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nxyz", { _ in true }),
                ("uvw", { $0.contains("200 OK") }),
            ])
            #expect(replies[0].hasPrefix("HTTP/1.1 100 Continue"), "\(replies)")
            #expect(replies[1].contains("HTTP/1.1 200 OK"), "\(replies)")
            #expect(replies[3].contains("HTTP/1.1 200 OK"), "\(replies)")
            // Only the second PUT was committed here.
            #expect(counting.writes.value == 1)
            #expect(try await s3.send(.get, "/photos/expecting").text == "abcd")
            #expect(try await s3.send(.get, "/photos/pieces").text == "xyzuvw")
        }
    }

    /// Files in the folders under `folder`.
    static func fileCount(under folder: URL) throws -> Int {
        let folders = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        return try folders.reduce(0) { $0 + (try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent($1).path).count) }
    }

    /// The live server: small PUTs committed in the pipeline, in order with the requests
    /// around them on the same connection, and one given back after its commit failed.
    @Test func liveServerAnswersWritesInRequestOrder() async throws {
        let stack = try await Stack()
        defer { stack.remove() }
        try await stack.live { client, counting in
            let s3 = SignedClient(client: client)
            #expect(try await s3.send(.put, "/photos").status == .ok)
            // One request at a time: the PUT is committed here, the GET answered here.
            let first = try await client.execute(
                uri: s3.presigned(.put, "/photos/a", expires: 300), method: .put, headers: [.contentLength: "5"],
                body: ByteBuffer(string: "first"))
            #expect(first.status == .ok)
            #expect(first.headers[.eTag] != nil)
            #expect(counting.writes.value == 1)
            let read = try await client.execute(uri: s3.presigned(.get, "/photos/a", expires: 300), method: .get)
            #expect(String(buffer: read.body) == "first")

            // Pipelined on one connection: a PUT (here), a GET of it (here, seeing the new
            // bytes), a PUT to a missing bucket (here, then given back: Hummingbird's 404),
            // a ranged GET (Hummingbird), a PUT behind it (Hummingbird), a plain GET.
            let port = try #require(client.port)
            let put = s3.presigned(.put, "/photos/a", expires: 300)
            let get = s3.presigned(.get, "/photos/a", expires: 300)
            let lost = s3.presigned(.put, "/nobucket/a", expires: 300)
            let requests = "PUT \(put) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nsecond"
                + "GET \(get) HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + "PUT \(lost) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nlost"
                + "GET \(get) HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-2\r\n\r\n"
                + "PUT \(put) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nthird"
                + "GET \(get) HTTP/1.1\r\nHost: localhost\r\n\r\n"
            let text = try await ImmediateReadTests.exchange(
                port: port, send: requests, until: { $0.components(separatedBy: "HTTP/1.1 ").count > 6 && $0.hasSuffix("third") })
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.components(separatedBy: "\r\n")[0] }
            #expect(statuses == ["200 OK", "200 OK", "404 Not Found", "206 Partial Content", "200 OK", "200 OK"], "\(text)")
            #expect(text.contains("\r\n\r\nsecondHTTP/1.1 404"))
            #expect(text.contains("<Code>NoSuchBucket</Code>"))
            #expect(text.contains("\r\n\r\nsecHTTP/1.1 200"))
            #expect(counting.writes.value >= 2)
            #expect(counting.writesGivenBack.value == 1)
            let last = try await client.execute(uri: s3.presigned(.get, "/photos/a", expires: 300), method: .get)
            #expect(String(buffer: last.body) == "third")
        }
    }
}
