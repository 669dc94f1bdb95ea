import Foundation
import HTTPTypes
import NIOCore
import Policy
import PolicyStore
import SigV4
import Storage
import VariantEngine

/// A complete answer made without suspending.
public struct ImmediateAnswer: Sendable {
    public var head: HTTPResponse
    /// The body; nil for HEAD.
    public var body: ByteBuffer?
}

/// What the connection's pipeline can have answered without a per-request task
/// (``ImmediateRequestHandler``): plain reads at once, small writes once committed.
public protocol ImmediateResponder: Sendable {
    /// A complete answer to a GET or HEAD without a body, or nil: the regular path answers it.
    func immediateAnswer(to head: HTTPRequest) -> ImmediateAnswer?
    /// The largest body ``immediateWrite(_:body:quiet:answer:)`` takes; 0: none.
    var immediateWriteLimit: Int { get }
    /// Starts a write whose whole body is at hand. False: declined, the regular path takes the
    /// request. True: `answer` is called exactly once, on any thread, with the answer, or
    /// with nil when nothing was written and the regular path must take the request after all.
    /// With `quiet` (no other request in progress on the caller's event loop), the commit may
    /// run on the calling thread.
    func immediateWrite(
        _ head: HTTPRequest, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
    ) -> Bool
}

extension S3Gateway: ImmediateResponder {
    /// Answers a GET or HEAD of a whole small object whose bytes the index keeps, on the calling
    /// thread and without suspending (the connection's event loop, ``ImmediateRequestHandler``):
    /// the checks, headers and metrics of ``respond(to:context:)``, for the requests where every
    /// input is at hand at once.
    ///
    /// Nil means the request takes the regular path: anything but a plain read of an object kept
    /// in the index (ranges, conditions, checksums, part numbers, variants not stored for the
    /// current `original.jpg`, keys that need a consent, control routes), a lookup that is not
    /// at hand (a tenant key or the tenant list not cached, another store), and every failure.
    /// The regular path then makes the same decisions again and answers errors the one way it
    /// always does.
    public func immediateAnswer(to head: HTTPRequest) -> ImmediateAnswer? {
        guard head.method == .get || head.method == .head, let immediate else { return nil }
        for field in head.headerFields where Self.needsRegularPath(field) { return nil }
        let started = ContinuousClock.now
        do {
            // The key's tenant, the tenants and the object: one snapshot of the index.
            let looked = try immediate.objects.inOneSnapshot { () throws -> (ImmediateCall, ObjectInfo, ByteBuffer)? in
                guard let call = try immediateCall(head, immediate, { operation in
                    switch operation {
                    case .getObject(let bucket, let key), .headObject(let bucket, let key): (bucket, key, .readObject)
                    default: nil
                    }
                }), call.line.parameter("partNumber") == nil else { return nil }
                let found = if let variants, variants.isVariant(call.key) {
                    variants.storedNow(bucket: call.bucket, key: call.key)
                } else {
                    immediate.objects.inlineObjectNow(bucket: call.bucket, key: call.key)
                }
                return found.map { (call, $0.info, $0.bytes) }
            }
            guard let (call, info, bytes) = looked else { return nil }
            var out = ObjectHeaders.readHeaders(for: info, line: call.line, checksumMode: false)
            // Appended, as in `ObjectHeaders`: none of these is among the object's headers.
            out.append(HTTPField(name: .contentLength, value: String(info.size)))
            out.append(HTTPField(name: .amzRequestID, value: RequestID.make()))
            out.append(HTTPField(name: .server, value: "mediagate"))
            metrics.record(operation: call.operation.name, status: 200, duration: ContinuousClock.now - started)
            return ImmediateAnswer(head: HTTPResponse(status: .ok, headerFields: out), body: head.method == .head ? nil : bytes)
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
        _ head: HTTPRequest, body: ByteBuffer, quiet: Bool, answer: @escaping @Sendable (ImmediateAnswer?) -> Void
    ) -> Bool {
        guard head.method == .put, let immediate, let writes = immediate.writes, body.readableBytes <= immediateWriteLimit else {
            return false
        }
        for field in head.headerFields where Self.needsRegularWritePath(field) { return false }
        let started = ContinuousClock.now
        do {
            guard let call = try immediate.objects.inOneSnapshot({
                try immediateCall(head, immediate, { operation in
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
                answer(ImmediateAnswer(head: HTTPResponse(status: .ok, headerFields: out), body: nil))
            }
        } catch {
            return false
        }
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
        _ head: HTTPRequest, _ immediate: ImmediateReads,
        _ object: (S3Operation) -> (bucket: String, key: String, action: Action)?
    ) throws -> ImmediateCall? {
        let (rawPath, rawQuery) = Self.split(head.path ?? "/")
        let addressesBucket = S3Operation.virtualHostBucket(host: head.authority, domain: configuration.domain) != nil
        if !addressesBucket && rawPath.hasPrefix("/_mediagate") { return nil }
        let sigRequest = sigV4Request(head, rawPath: rawPath, rawQuery: rawQuery)
        guard let parsed = try verifier.parse(sigRequest),
              let credential = immediate.credentials.credentialNow(for: parsed.accessKeyID)
        else { return nil }
        let (auth, line, operation) = try route(head, sigRequest, parsed, credential, rawPath: rawPath)
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
    static func needsRegularPath(_ field: HTTPField) -> Bool {
        switch field.name {
        case .contentLength: return field.value != "0"
        case .connection: return closesOrUpgrades(field)
        default: return regularPathHeaders.contains(field.name)
        }
    }

    /// Whether a request header is one that a PUT committed at once does not handle: framing
    /// other than Content-Length, an interim response, or the end of the connection. (Write
    /// conditions and copy sources are declined by what they parse to.)
    static func needsRegularWritePath(_ field: HTTPField) -> Bool {
        switch field.name {
        case .connection: closesOrUpgrades(field)
        case .transferEncoding, .expect, .mediagateContinue: true
        default: false
        }
    }

    private static func closesOrUpgrades(_ field: HTTPField) -> Bool {
        let value = field.value.lowercased()
        return value.contains("close") || value.contains("upgrade")
    }

    private static let regularPathHeaders: Set<HTTPField.Name> = [
        .transferEncoding, .expect, .mediagateContinue,
        .range, .ifMatch, .ifNoneMatch, .ifModifiedSince, .ifUnmodifiedSince, .amzChecksumMode,
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
