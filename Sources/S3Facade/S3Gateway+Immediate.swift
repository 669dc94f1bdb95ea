import Foundation
import GatewayCore
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Policy
import PolicyStore
import SigV4
import Storage
import VariantEngine

/// A complete answer made without suspending, as NIO's HTTP/1 encoder takes it: the
/// pipeline handler that asks for it sits before the conversion to HTTP types
/// (``ImmediateRequestHandler``).
public struct ImmediateAnswer: Sendable {
    public var head: HTTPResponseHead
    /// The body; nil for HEAD. A file in it is closed by whoever sends the answer.
    public var body: ImmediateBytes?

    public init(head: HTTPResponseHead, body: ImmediateBytes?) {
        self.head = head
        self.body = body
    }
}

/// What the connection's pipeline can have answered without a per-request task
/// (``ImmediateRequestHandler``): plain reads at once, small writes once committed. Requests
/// come as NIO's HTTP/1 decoder makes them.
public protocol ImmediateResponder: Sendable {
    /// A complete answer to a GET or HEAD without a body, or nil: the regular path answers it.
    /// With `sendingFiles`, its body may be an open file (the connection sends it with
    /// `sendfile`, so not through TLS).
    func immediateAnswer(to head: HTTPRequestHead, sendingFiles: Bool) -> ImmediateAnswer?
    /// The largest body ``immediateWrite(_:body:quiet:answer:)`` takes; 0: none.
    var immediateWriteLimit: Int { get }
    /// Starts a write whose whole body is at hand. False: declined, the regular path takes the
    /// request. True: `answer` is called exactly once, on any thread, with the answer, or
    /// with nil when nothing was written and the regular path must take the request after all.
    /// With `quiet` (no other request in progress on the caller's event loop), the commit may
    /// run on the calling thread.
    func immediateWrite(
        _ head: HTTPRequestHead, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
    ) -> Bool
}

extension S3Gateway: ImmediateResponder {
    /// Answers a HEAD of an object, a GET of a whole small object whose bytes the index keeps,
    /// or, with `sendingFiles`, a GET of an object the store keeps in one file that is in the
    /// page cache (the answer then holds that file open), on the calling thread and without
    /// suspending (the connection's event loop, ``ImmediateRequestHandler``): the checks,
    /// headers and metrics of ``respond(to:context:)``, for the requests where every input is
    /// at hand at once.
    ///
    /// Nil means the request takes the regular path: anything but a plain HEAD, or a plain GET
    /// of an object kept in the index or, with `sendingFiles`, in one file (ranges, conditions,
    /// checksums, part numbers, variants not stored for the current `original.jpg`, keys that
    /// need a consent, control routes), a lookup that is not at hand (a tenant key or the
    /// tenant list not cached, another store), a request in another version than HTTP/1.1, and
    /// every failure.
    /// The regular path then makes the same decisions again and answers errors the one way it
    /// always does.
    public func immediateAnswer(to head: HTTPRequestHead, sendingFiles: Bool) -> ImmediateAnswer? {
        guard head.method == .GET || head.method == .HEAD, head.version == .http1_1, let immediate else { return nil }
        var authority: String?
        for (name, value) in head.headers {
            if Self.needsRegularPath(name: name, value: value) { return nil }
            if authority == nil && name.caseInsensitiveEquals("host") { authority = value }
        }
        let started = ContinuousClock.now
        let request = ImmediateHead(
            method: head.method.rawValue, target: head.uri, authority: authority,
            headers: head.headers.map { ($0.name, $0.value) }, copySource: nil)
        do {
            // The key's tenant, the tenants and the object: one snapshot of the index.
            let looked = try immediate.objects.inOneSnapshot { () throws -> (ImmediateCall, ObjectInfo, ImmediateBytes?)? in
                guard let call = try immediateCall(request, immediate, { operation in
                    switch operation {
                    case .getObject(let bucket, let key), .headObject(let bucket, let key): (bucket, key, .readObject)
                    default: nil
                    }
                }), call.line.parameter("partNumber") == nil else { return nil }
                let wanted: ImmediateBytesWanted = head.method == .HEAD ? .none : sendingFiles ? .keptOrFile : .kept
                if let variants, variants.isVariant(call.key) {
                    return variants.storedNow(bucket: call.bucket, key: call.key, bytes: wanted)
                        .map { (call, $0.info, $0.bytes) }
                }
                return immediate.objects.objectNow(bucket: call.bucket, key: call.key, bytes: wanted)
                    .map { (call, $0.info, $0.bytes) }
            }
            guard let (call, info, bytes) = looked else { return nil }
            var out: HTTPHeaders = ObjectHeaders.readHeaders(for: info, line: call.line, checksumMode: false)
            // Added, as in `ObjectHeaders`: none of these is among the object's headers.
            out.add(name: "Content-Length", value: String(info.size))
            out.add(name: HTTPField.Name.amzRequestID.rawName, value: RequestID.make())
            out.add(name: "Server", value: "mediagate")
            metrics.record(operation: call.operation.name, status: 200, duration: ContinuousClock.now - started)
            return ImmediateAnswer(
                head: HTTPResponseHead(version: .http1_1, status: .ok, headers: out), body: bytes)
        } catch {
            return nil
        }
    }

    /// The largest PUT body the pipeline gathers for ``immediateWrite(_:body:quiet:answer:)``: what the
    /// store keeps in its index records, at most 64 KiB (the body is hashed on the event loop).
    public var immediateWriteLimit: Int {
        guard let writes = immediate?.writes else { return 0 }
        return Int(min(writes.inlineLimit, 64 << 10))
    }

    /// Commits a small PUT whose whole body is at hand, from the calling thread (the
    /// connection's event loop) and without suspending: the checks of ``putObject(_:_:)`` in
    /// its order (authentication, policy, declared attributes and type, length, payload hash,
    /// Content-MD5, checksum, content signature), then one record through the store's group
    /// commit. The answer (its ETag, checksum, request id; metrics recorded) is made on the
    /// commit's thread.
    ///
    /// Declined (false), so that the regular path answers: anything but a plain single-request
    /// PUT of an object (copies, parts, write conditions, aws-chunked bodies, `Expect`), keys
    /// whose writes change variants (`…/original.<ext>`) or need a consent, a lookup that is
    /// not at hand, and every failed check, so that errors are answered the one way they always
    /// are. A commit that fails leaves nothing behind and gives the request to the regular path
    /// too (`answer(nil)`), which then answers the error (a missing bucket, for one).
    public func immediateWrite(
        _ nioHead: HTTPRequestHead, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
    ) -> Bool {
        guard nioHead.method == .PUT, nioHead.version == .http1_1, let immediate, let writes = immediate.writes, body.readableBytes <= immediateWriteLimit,
              let head = try? HTTPTypesServerCodec.request(nioHead)
        else {
            return false
        }
        for field in head.headerFields where Self.needsRegularWritePath(field) { return false }
        let started = ContinuousClock.now
        let request = ImmediateHead(
            method: head.method.rawValue, target: head.path ?? "/", authority: head.authority, headers: Self.sigV4Headers(head),
            copySource: head.headerFields[.amzCopySource])
        do {
            guard let call = try immediate.objects.inOneSnapshot({
                try immediateCall(request, immediate, { operation in
                    guard case .putObject(let bucket, let key) = operation, VariantAddress.sourceDirectory(of: key) == nil else {
                        return nil
                    }
                    return (bucket, key, .writeObject)
                })
            }) else { return false }
            let headers = head.headerFields
            let declared = try ObjectHeaders.attributes(from: headers)
            guard try Self.writePrecondition(headers) == .none else { return false }
            try screenDeclared(call.grant, contentType: declared.contentType, length: nil)
            let expectations = try UploadExpectations.from(
                headers: headers, auth: call.auth, maxLength: maxLength(call.grant), lengthRequired: true)
            guard !expectations.payload.isChunked else { return false }
            let digest = try expectations.verify(whole: body)
            let attributes = try screenHead(call.grant, attributes: declared, head: body.readableBytesView.prefix(MediaKind.sniffLength))
            let metrics = self.metrics
            let operation = call.operation.name
            return writes.putInlineNow(
                bucket: call.bucket, key: call.key, attributes: attributes, origin: .client, bytes: body, digest: digest,
                mayRunHere: quiet
            ) { outcome in
                guard case .success(let info) = outcome else { return answer(nil) }
                var out = HTTPFields()
                out[.eTag] = "\"\(info.etag)\""
                Self.addChecksum(info.checksum, to: &out)
                out[.contentLength] = "0"
                Self.stamp(&out, requestID: RequestID.make())
                metrics.record(operation: operation, status: 200, duration: ContinuousClock.now - started)
                answer(ImmediateAnswer(head: HTTPResponseHead(HTTPResponse(status: .ok, headerFields: out)), body: nil))
            }
        } catch {
            return false
        }
    }

    /// What authentication and routing read of a request head, from NIO's head (reads) or
    /// HTTP types' (writes).
    private struct ImmediateHead {
        let method: String
        /// The request target: path and query.
        let target: String
        let authority: String?
        /// Every header, `Host` included, names in any case (as SigV4 takes them).
        let headers: [(name: String, value: String)]
        let copySource: String?
    }

    /// An object request authenticated and authorized with lookups at hand only.
    private struct ImmediateCall {
        let auth: SigV4Authenticated
        let line: S3RequestLine
        let operation: S3Operation
        let grant: Grant
        /// The granted object's address.
        let bucket: String
        let key: String
    }

    /// The steps of ``respond(to:context:)`` up to the grant (`authenticate`, then
    /// `authorize`), with the credential and tenants from the caches: nil when one is not at
    /// hand, the request is a control route, `object` does not accept the operation (it names
    /// the object and the action to authorize), or the key needs a consent.
    /// - Throws: what those steps throw.
    private func immediateCall(
        _ head: ImmediateHead, _ immediate: ImmediateReads,
        _ object: (S3Operation) -> (bucket: String, key: String, action: Action)?
    ) throws -> ImmediateCall? {
        let (rawPath, rawQuery) = Self.split(head.target)
        let addressesBucket = S3Operation.virtualHostBucket(host: head.authority, domain: configuration.domain) != nil
        if !addressesBucket && rawPath.hasPrefix("/_mediagate") { return nil }
        let sigRequest = SigV4Request(method: head.method, rawPath: String(rawPath), rawQuery: String(rawQuery), headers: head.headers)
        guard let parsed = try verifier.parse(sigRequest),
              let credential = immediate.credentials.credentialNow(for: parsed.accessKeyID)
        else { return nil }
        let (auth, line, operation) = try route(
            method: head.method, authority: head.authority, copySource: head.copySource, sigRequest, parsed, credential,
            rawPath: rawPath)
        guard let (bucket, key, action) = object(operation),
              let tenants = immediate.policy.tenantsNow()?.map(\.scope),
              policy.consentKeys(for: [key], tenants: tenants).isEmpty
        else { return nil }
        let facts = RequestFacts(now: Date(), tenants: tenants, presigned: Self.presignedFacts(auth, method: head.method))
        let grant = try policy.authorize(credential.principal, action, Resource(bucket: bucket, key: key), facts: facts)
        let (grantedBucket, grantedKey) = try objectAddress(grant)
        return ImmediateCall(auth: auth, line: line, operation: operation, grant: grant, bucket: grantedBucket, key: grantedKey)
    }

    /// Whether a request header is one that a GET answered at once does not handle: a body,
    /// an interim response, the end of the connection, or what selects or conditions the answer.
    static func needsRegularPath(name: String, value: String) -> Bool {
        if name.caseInsensitiveEquals("content-length") { return value != "0" }
        if name.caseInsensitiveEquals("connection") { return closesOrUpgrades(value) }
        return regularPathHeaders.contains { name.caseInsensitiveEquals($0) }
    }

    /// Whether a request header is one that a PUT committed at once does not handle: framing
    /// other than Content-Length, an interim response, or the end of the connection. (Write
    /// conditions and copy sources are declined by what they parse to.)
    static func needsRegularWritePath(_ field: HTTPField) -> Bool {
        switch field.name {
        case .connection: closesOrUpgrades(field.value)
        case .transferEncoding, .expect, .mediagateContinue: true
        default: false
        }
    }

    private static func closesOrUpgrades(_ value: String) -> Bool {
        let value = value.lowercased()
        return value.contains("close") || value.contains("upgrade")
    }

    /// Lowercase.
    private static let regularPathHeaders: [String] = [
        "transfer-encoding", "expect", HTTPField.Name.mediagateContinue.canonicalName,
        "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "x-amz-checksum-mode",
    ]
}

/// The synchronous reads ``S3Gateway/immediateAnswer(to:)`` needs, when the gateway's store,
/// credentials and policy store all offer them, and the store's writes without suspending
/// (``S3Gateway/immediateWrite(_:body:quiet:answer:)``) when it offers them too.
final class ImmediateReads: Sendable {
    let objects: any ImmediateObjectReads
    let writes: (any ImmediateObjectWrites)?
    let credentials: any ImmediateCredentials
    let policy: any ImmediatePolicyReads

    init?(store: any ObjectStore, credentials: any CredentialProvider, policyStore: any PolicyStore) {
        guard let objects = store as? any ImmediateObjectReads,
              let credentials = credentials as? any ImmediateCredentials,
              let policy = policyStore as? any ImmediatePolicyReads
        else { return nil }
        self.objects = objects
        self.writes = store as? any ImmediateObjectWrites
        self.credentials = credentials
        self.policy = policy
    }
}
