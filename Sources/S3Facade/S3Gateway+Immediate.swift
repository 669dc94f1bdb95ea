import Foundation
import HTTPTypes
import NIOCore
import Policy
import PolicyStore
import Storage

/// A complete answer made without suspending.
public struct ImmediateAnswer: Sendable {
    public var head: HTTPResponse
    /// The body; nil for HEAD.
    public var body: ByteBuffer?
}

extension S3Gateway {
    /// Answers a GET or HEAD of a whole small object whose bytes the index keeps, on the calling
    /// thread and without suspending (the connection's event loop, ``ImmediateReadHandler``):
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
        let (rawPath, rawQuery) = Self.split(head.path ?? "/")
        let addressesBucket = S3Operation.virtualHostBucket(host: head.authority, domain: configuration.domain) != nil
        if !addressesBucket && rawPath.hasPrefix("/_mediagate") { return nil }
        do {
            let sigRequest = sigV4Request(head, rawPath: rawPath, rawQuery: rawQuery)
            guard let parsed = try verifier.parse(sigRequest),
                  let credential = immediate.credentials.credentialNow(for: parsed.accessKeyID)
            else { return nil }
            let (auth, line, operation) = try route(head, sigRequest, parsed, credential, rawPath: rawPath)
            let bucket: String, key: String
            switch operation {
            case .getObject(let b, let k), .headObject(let b, let k): (bucket, key) = (b, k)
            default: return nil
            }
            guard line.parameter("partNumber") == nil,
                  let tenants = immediate.policy.tenantsNow()?.map(\.scope),
                  policy.consentKeys(for: [key], tenants: tenants).isEmpty
            else { return nil }
            let facts = RequestFacts(now: Date(), tenants: tenants, presigned: Self.presignedFacts(auth, method: head.method))
            let grant = try policy.authorize(credential.principal, .readObject, Resource(bucket: bucket, key: key), facts: facts)
            let (grantedBucket, grantedKey) = try objectAddress(grant)
            let found = if let variants, variants.isVariant(grantedKey) {
                variants.storedNow(bucket: grantedBucket, key: grantedKey)
            } else {
                immediate.objects.inlineObjectNow(bucket: grantedBucket, key: grantedKey)
            }
            guard let (info, bytes) = found else { return nil }
            var out = ObjectHeaders.readHeaders(for: info, line: line, checksumMode: false)
            out[.contentLength] = String(info.size)
            Self.stamp(&out, requestID: RequestID.make())
            metrics.record(operation: operation.name, status: 200, duration: ContinuousClock.now - started)
            return ImmediateAnswer(head: HTTPResponse(status: .ok, headerFields: out), body: head.method == .head ? nil : bytes)
        } catch {
            return nil
        }
    }

    /// Whether a request header is one that a GET answered at once does not handle: a body,
    /// an interim response, the end of the connection, or what selects or conditions the answer.
    static func needsRegularPath(_ field: HTTPField) -> Bool {
        switch field.name {
        case .contentLength: return field.value != "0"
        case .connection:
            let value = field.value.lowercased()
            return value.contains("close") || value.contains("upgrade")
        default: return regularPathHeaders.contains(field.name)
        }
    }

    private static let regularPathHeaders: Set<HTTPField.Name> = [
        .transferEncoding, .expect, .mediagateContinue,
        .range, .ifMatch, .ifNoneMatch, .ifModifiedSince, .ifUnmodifiedSince, .amzChecksumMode,
    ]
}

/// The synchronous reads ``S3Gateway/immediateAnswer(to:)`` needs, when the gateway's store,
/// credentials and policy store all offer them.
struct ImmediateReads: Sendable {
    let objects: any ImmediateObjectReads
    let credentials: any ImmediateCredentials
    let policy: any ImmediatePolicyReads

    init?(store: any ObjectStore, credentials: any CredentialProvider, policyStore: any PolicyStore) {
        guard let objects = store as? any ImmediateObjectReads,
              let credentials = credentials as? any ImmediateCredentials,
              let policy = policyStore as? any ImmediatePolicyReads
        else { return nil }
        self.objects = objects
        self.credentials = credentials
        self.policy = policy
    }
}
