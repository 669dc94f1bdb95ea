import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Policy
import PolicyStore
import S3XML
import SigV4
import Storage
import Synchronization
import VariantEngine

/// The HTTP entry point: S3 on every path, the control API under `/_mediagate/`.
///
/// A request goes: request id → control route, or SigV4 verify → ``S3Operation`` parse →
/// ``AccessPolicy`` → handler; any thrown error → ``ErrorMapping`` → S3 `<Error>` with RequestId.
public struct S3Gateway: HTTPResponder {
    public typealias Context = BasicRequestContext

    let configuration: GatewayConfiguration
    let store: any ObjectStore
    let credentials: any CredentialProvider
    let verifier: SigV4Verifier
    let policy: AccessPolicy
    let policyStore: any PolicyStore
    let control: ControlAccess?
    let uploadURLLimiter: RateLimiter
    let continueRegistry: ContinueRegistry?
    let variants: VariantService?
    let mediaInfo: MediaInfoService?
    let metrics: GatewayMetrics
    let logger: Logger
    let readiness: @Sendable () async -> Bool
    /// The synchronous reads of ``immediateAnswer(to:)``; nil when a part does not offer them.
    let immediate: ImmediateReads?

    /// Creates a gateway over a store.
    /// - Parameters:
    ///   - policyStore: tenants, consents and share links.
    ///   - control: the admin token and root pair for the control API (`/_mediagate/v1`); without
    ///     it only health, readiness and metrics answer.
    ///   - continueRegistry: shared with the connections' ``ExpectContinueHandler``s, so that
    ///     `100 Continue` is sent when the body is first read.
    ///   - variants: derives image variants on first read (SPEC §6); nil: variant keys are plain keys.
    ///   - mediaInfo: answers `/_mediagate/v1/media/…`; nil: that endpoint is 404.
    ///   - readiness: answers `/_mediagate/ready`; true once dependencies respond.
    public init(
        configuration: GatewayConfiguration, store: any ObjectStore, credentials: any CredentialProvider,
        policyStore: any PolicyStore = InMemoryPolicyStore(), control: ControlAccess? = nil,
        continueRegistry: ContinueRegistry? = nil, variants: VariantService? = nil, mediaInfo: MediaInfoService? = nil, metrics: GatewayMetrics = GatewayMetrics(), logger: Logger = Logger(label: "mediagate"),
        readiness: @escaping @Sendable () async -> Bool = { true }
    ) {
        self.configuration = configuration
        self.store = store
        self.credentials = credentials
        self.verifier = SigV4Verifier(
            region: configuration.region, maxClockSkew: configuration.maxClockSkew,
            maxPresignedExpiry: configuration.maxPresignedExpiry)
        self.policy = AccessPolicy(rules: configuration.rules)
        self.policyStore = policyStore
        self.control = control
        self.uploadURLLimiter = RateLimiter(limit: configuration.uploadURLsPerMinute, window: .seconds(60))
        self.continueRegistry = continueRegistry
        self.variants = variants
        self.mediaInfo = mediaInfo
        self.metrics = metrics
        self.logger = logger
        self.readiness = readiness
        self.immediate = ImmediateReads(store: store, credentials: credentials, policyStore: policyStore)
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        var request = request
        if let ticket = request.headers[.mediagateContinue], let registry = continueRegistry {
            // `100 Continue` goes out when a handler first reads the body, after every check
            // that needs no body.
            request.body = RequestBody(asyncSequence: SignalingBody(base: request.body, onFirstRead: { registry.redeem(ticket) }))
        }
        let requestID = RequestID.make()
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        let target = request.head.path ?? "/"
        let (rawPath, rawQuery) = Self.split(target)

        var operationName = "Unknown"
        var response: Response
        let addressesBucket = S3Operation.virtualHostBucket(host: request.head.authority, domain: configuration.domain) != nil
        if !addressesBucket && (rawPath.hasPrefix("/_mediagate/") || rawPath == "/_mediagate") {
            operationName = "Control"
            response = await controlResponse(rawPath: rawPath, rawQuery: rawQuery, request: request, requestID: requestID, logger: logger)
        } else {
            do {
                let call = try await authenticate(request, rawPath: rawPath, rawQuery: rawQuery, requestID: requestID, logger: logger)
                operationName = call.operation.name
                response = try await dispatch(call)
            } catch {
                let s3Error = ErrorMapping.s3Error(for: error, logger: logger)
                if s3Error.code == .accessDenied || s3Error.code == .signatureDoesNotMatch {
                    logger.info("request refused", metadata: ["code": "\(s3Error.code.rawValue)", "reason": "\(error)"])
                }
                // Hummingbird drains any unread request body after the response.
                response = Self.errorResponse(s3Error, resource: rawPath, requestID: requestID, method: request.method)
            }
        }
        Self.stamp(&response.headers, requestID: requestID)
        metrics.record(operation: operationName, status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }

    /// The headers every answer carries.
    static func stamp(_ headers: inout HTTPFields, requestID: String) {
        headers[.amzRequestID] = requestID
        headers[.server] = "mediagate"
    }

    /// The authenticated, routed and authorized form of a request.
    struct Call: Sendable {
        let request: Request
        let line: S3RequestLine
        let operation: S3Operation
        let auth: SigV4Authenticated
        let principal: Principal
        /// Every tenant's scope, read once per request (finds the owner of a key).
        let tenants: [TenantScope]
        let requestID: String
        let logger: Logger

        /// The presigned-URL facts of the request, if it came with one.
        var presigned: PresignedFacts? { S3Gateway.presignedFacts(auth, method: request.method.rawValue) }
    }

    private func authenticate(_ request: Request, rawPath: Substring, rawQuery: Substring, requestID: String, logger: Logger) async throws -> Call {
        let sigRequest = sigV4Request(request.head, rawPath: rawPath, rawQuery: rawQuery)
        guard let parsed = try verifier.parse(sigRequest) else {
            throw S3Error(.accessDenied, "Access Denied")
        }
        guard let credential = try await credentials.credential(for: parsed.accessKeyID) else {
            throw S3Error(.invalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.")
        }
        let (auth, line, operation) = try route(
            method: request.method.rawValue, authority: request.head.authority, copySource: request.headers[.amzCopySource],
            sigRequest, parsed, credential, rawPath: rawPath)
        let tenants = try await policyStore.tenants().map(\.scope)
        return Call(
            request: request, line: line, operation: operation, auth: auth, principal: credential.principal,
            tenants: tenants, requestID: requestID, logger: logger)
    }

    /// Checks the signature with the credential's secret and finds the operation: the steps
    /// of authentication that need no lookup.
    func route(
        method: String, authority: String?, copySource: String?, _ sigRequest: SigV4Request, _ parsed: SigV4ParsedAuth,
        _ credential: StoredCredential, rawPath: Substring
    ) throws -> (SigV4Authenticated, S3RequestLine, S3Operation) {
        let auth = try verifier.verify(parsed, request: sigRequest, secretAccessKey: credential.secretAccessKey, now: Date())
        let line = S3RequestLine(
            method: method, rawPath: String(rawPath), query: try S3RequestLine.parseQuery(sigRequest.query),
            host: authority, copySource: copySource)
        return (auth, line, try S3Operation.parse(line, domain: configuration.domain))
    }

    /// Checks policy for an action; the only way handlers obtain a ``Grant``.
    func authorize(_ call: Call, _ action: Action, bucket: String?, key: String?) async throws -> Grant {
        try await authorize(
            call.principal, action, bucket: bucket, key: key, tenants: call.tenants, presigned: call.presigned,
            logger: call.logger, operation: call.operation.name)
    }

    /// Gathers the facts policy needs (consents from the store) and decides.
    /// - Throws: ``S3Error`` `AccessDenied` on a denial (its reason goes to the log only).
    func authorize(
        _ principal: Principal, _ action: Action, bucket: String?, key: String?, tenants: [TenantScope],
        presigned: PresignedFacts?, logger: Logger, operation: String
    ) async throws -> Grant {
        var facts = RequestFacts(now: Date(), tenants: tenants, presigned: presigned)
        if let key {
            let needed = policy.consentKeys(for: [key], tenants: tenants)
            if !needed.isEmpty { facts.consents = try await policyStore.consents(needed) }
        }
        do {
            return try policy.authorize(principal, action, Resource(bucket: bucket, key: key), facts: facts)
        } catch {
            logger.info("access denied", metadata: ["reason": "\(error.reason)", "operation": "\(operation)"])
            throw S3Error(.accessDenied, "Access Denied")
        }
    }

    /// The presigned-URL facts of a request, if it came with one.
    static func presignedFacts(_ auth: SigV4Authenticated, method: String) -> PresignedFacts? {
        guard case .presigned(let expires) = auth.kind else { return nil }
        return PresignedFacts(method: method, expires: expires)
    }

    static func split(_ target: String) -> (Substring, Substring) {
        // On bytes: a `Character` search over a presigned URL's 400 bytes is measurable.
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target[...], "") }
        return (target[..<question], target[target.index(after: question)...])
    }

    static func errorResponse(_ error: S3Error, resource: Substring, requestID: String, method: HTTPRequest.Method) -> Response {
        var headers = HTTPFields()
        if error.code == .slowDown || error.code == .serviceUnavailable { headers[.retryAfter] = "1" }
        if method == .head || error.code == .notModified {
            return Response(status: error.code.status, headers: headers)
        }
        var xml = XMLWriter()
        xml.open("Error")
        xml.element("Code", error.code.rawValue)
        xml.element("Message", error.message)
        for (name, value) in error.details { xml.element(name, value) }
        xml.element("Resource", String(resource))
        xml.element("RequestId", requestID)
        xml.close("Error")
        headers[.contentType] = "application/xml"
        return Response(status: error.code.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: xml.bytes)))
    }
}

/// Request ids: 16 uppercase hex characters, like S3's.
enum RequestID {
    private static let digits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Random keys per process for the ids' hash: ids of different runs do not repeat each other,
    /// and an id says nothing about how many requests came before it.
    private static let keys: (UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()
    private static let counter = Atomic<UInt64>(0)

    /// A new id: a counter hashed with the process's keys (SipHash, Swift's `Hasher`), without
    /// a `getrandom` call per request. Distinct inputs, so ids repeat only by a 64-bit collision,
    /// as random ids would.
    static func make() -> String {
        var hasher = Hasher()
        hasher.combine(keys.0)
        hasher.combine(counter.wrappingAdd(1, ordering: .relaxed).newValue)
        hasher.combine(keys.1)
        let value = UInt64(bitPattern: Int64(hasher.finalize()))
        // Written in place: through `String(_:radix:)` and padding it cost three allocations.
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits[Int((value >> UInt64(60 - 4 * index)) & 0xF)]
            }
            return 16
        }
    }
}
