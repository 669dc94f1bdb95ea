import Crypto
import Foundation

/// What the aws-chunked decoder needs to check chunk signatures: the signing key, the request
/// time, the credential scope and the seed (request) signature.
public struct SigV4ChunkContext: Sendable {
    /// The derived signing key of the request's scope.
    let signingKey: SymmetricKey
    /// The request time as in the string to sign, ISO 8601 basic.
    public let amzDate: String
    /// `yyyymmdd/region/service/aws4_request`.
    public let scope: String
    /// The request's own signature (lowercase hex), which the first chunk signature chains from.
    public let seedSignature: String

    init(signingKey: SymmetricKey, amzDate: String, scope: String, seedSignature: String) {
        self.signingKey = signingKey
        self.amzDate = amzDate
        self.scope = scope
        self.seedSignature = seedSignature.lowercased()
    }

    /// Creates a context by deriving the signing key (for tests and client-side encoding).
    /// - Parameters:
    ///   - secretAccessKey: The secret key.
    ///   - amzDate: The request time, ISO 8601 basic (`yyyyMMdd'T'HHmmss'Z'`); its first 8 characters are the scope date.
    ///   - region: The scope's region.
    ///   - service: The scope's service.
    ///   - seedSignature: The request signature the first chunk chains from.
    public init(secretAccessKey: String, amzDate: String, region: String, service: String = "s3", seedSignature: String) {
        let day = String(amzDate.prefix(8))
        self.init(signingKey: SigV4Crypto.deriveSigningKey(secret: secretAccessKey, date: day, region: region, service: service),
                  amzDate: amzDate, scope: SigV4Crypto.scope(date: day, region: region, service: service),
                  seedSignature: seedSignature)
    }
}

/// A request whose SigV4 signature has been verified.
public struct SigV4Authenticated: Sendable {
    /// The access key that signed the request.
    public let accessKeyID: String
    /// How the body is protected; the caller enforces `.sha256` and decodes streaming modes.
    public let payload: SigV4PayloadMode
    /// Header or presigned authentication.
    public let kind: SigV4ParsedAuth.Kind
    /// The request time (`X-Amz-Date`/`x-amz-date`, else `Date`).
    public let requestDate: Date
    /// Non-nil for ``SigV4PayloadMode/streamingSigned`` and ``SigV4PayloadMode/streamingSignedTrailer``:
    /// pass it to ``AWSChunkedDecoder``.
    public let chunkContext: SigV4ChunkContext?
    /// The trailer names declared in `x-amz-trailer`, lowercased (empty when none).
    public let declaredTrailers: [String]

    /// Creates an authenticated identity (the verifier does this; tests and fakes may too).
    /// - Parameters:
    ///   - accessKeyID: The access key that signed the request.
    ///   - payload: The declared payload mode.
    ///   - kind: Header or presigned authentication.
    ///   - requestDate: The request time.
    ///   - chunkContext: The chunk-signature context for signed streaming modes, else `nil`.
    ///   - declaredTrailers: Lowercased names from `x-amz-trailer`.
    public init(accessKeyID: String, payload: SigV4PayloadMode, kind: SigV4ParsedAuth.Kind, requestDate: Date,
                chunkContext: SigV4ChunkContext?, declaredTrailers: [String] = []) {
        self.accessKeyID = accessKeyID
        self.payload = payload
        self.kind = kind
        self.requestDate = requestDate
        self.chunkContext = chunkContext
        self.declaredTrailers = declaredTrailers
    }
}

/// Verifies AWS Signature Version 4 requests (header and presigned) for one region and service.
///
/// Use in two steps: ``parse(_:)`` extracts the access key without any secret, then
/// ``verify(_:request:secretAccessKey:now:)`` checks time and signature.
public struct SigV4Verifier: Sendable {
    /// The region every credential scope must name.
    public let region: String
    /// The service every credential scope must name.
    public let service: String
    /// The largest allowed |now − request time| for header auth, and the allowed future skew of presigned URLs.
    public let maxClockSkew: TimeInterval
    /// The largest allowed `X-Amz-Expires`.
    public let maxPresignedExpiry: Int
    /// The shared cache of derived signing keys.
    public let keyCache: SigningKeyCache

    /// Creates a verifier.
    /// - Parameters:
    ///   - region: The region the gateway serves (e.g. `us-east-1`).
    ///   - service: The service name in the scope; `s3`.
    ///   - maxClockSkew: Allowed clock skew in seconds (AWS: 15 minutes).
    ///   - maxPresignedExpiry: Largest `X-Amz-Expires` in seconds (AWS: 7 days).
    ///   - keyCache: A signing-key cache, ideally shared by all verifiers of a process.
    public init(region: String, service: String = "s3", maxClockSkew: TimeInterval = 900,
                maxPresignedExpiry: Int = 604_800, keyCache: SigningKeyCache = SigningKeyCache()) {
        self.region = region
        self.service = service
        self.maxClockSkew = maxClockSkew
        self.maxPresignedExpiry = maxPresignedExpiry
        self.keyCache = keyCache
    }

    /// Extracts SigV4 authentication from a request without checking the signature.
    /// - Parameter request: The request as received.
    /// - Returns: `nil` when the request carries no authentication at all (anonymous).
    /// - Throws: ``SigV4Error`` for malformed or unsupported authentication: a wrong algorithm
    ///   (SigV2, SigV4a), a malformed credential scope, a wrong region or service, unsigned `host`,
    ///   a bad or missing date, `X-Amz-Expires` outside 1…`maxPresignedExpiry`, a missing or invalid
    ///   `x-amz-content-sha256`, or both header and query authentication.
    public func parse(_ request: SigV4Request) throws(SigV4Error) -> SigV4ParsedAuth? {
        let authorization = request.values(of: "authorization")
        let query = request.query
        let hasPresigned = query.contains {
            $0.nameIs("X-Amz-Algorithm") || $0.nameIs("X-Amz-Credential") || $0.nameIs("X-Amz-Signature")
        }
        if authorization.count > 1 {
            throw SigV4Error(.authorizationHeaderMalformed, "The authorization header is malformed; it was sent more than once.")
        }
        if let header = authorization.first {
            if hasPresigned {
                throw SigV4Error(.authorizationHeaderMalformed,
                                 "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
            }
            return try parseHeaderAuth(header, request: request)
        }
        if hasPresigned {
            return try parsePresigned(request)
        }
        if query.contains(where: { $0.nameIs("AWSAccessKeyId") }) && query.contains(where: { $0.nameIs("Signature") }) {
            throw SigV4Error(.unsupportedAlgorithm, "Signature Version 2 presigned URLs are not supported; use AWS4-HMAC-SHA256.")
        }
        return nil
    }

    /// Checks the request time and the signature.
    /// - Parameters:
    ///   - parsed: The result of ``parse(_:)`` for this request.
    ///   - request: The same request.
    ///   - secretAccessKey: The secret of `parsed.accessKeyID`.
    ///   - now: The server's current time.
    /// - Returns: The authenticated identity and payload mode.
    /// - Throws: ``SigV4Error`` with ``SigV4Error/Code/requestTimeTooSkewed`` (header auth more than
    ///   `maxClockSkew` away from `now`), ``SigV4Error/Code/requestNotYetValid`` (presigned date in the
    ///   future beyond the skew), ``SigV4Error/Code/requestExpired`` (presigned URL expired),
    ///   ``SigV4Error/Code/signatureDoesNotMatch``, or ``SigV4Error/Code/headersNotSigned`` (an
    ///   `x-amz-*` header other than `x-amz-content-sha256` was sent but not signed).
    public func verify(_ parsed: SigV4ParsedAuth, request: SigV4Request, secretAccessKey: String,
                       now: Date) throws(SigV4Error) -> SigV4Authenticated {
        let age = now.timeIntervalSince(parsed.requestDate)
        switch parsed.kind {
        case .header:
            guard abs(age) <= maxClockSkew else {
                throw SigV4Error(.requestTimeTooSkewed, "The difference between the request time and the current time is too large.")
            }
        case .presigned(let expires):
            guard -age <= maxClockSkew else { throw SigV4Error(.requestNotYetValid, "Request is not valid yet") }
            guard age <= TimeInterval(expires) else { throw SigV4Error(.requestExpired, "Request has expired") }
        }

        let key = keyCache.signingKey(accessKeyID: parsed.accessKeyID, secret: secretAccessKey,
                                      date: parsed.scopeDate, region: parsed.region, service: parsed.service)
        // Built as bytes; the texts are made only for a mismatch's error details.
        let canonicalRequest = SigV4Canonical.canonicalRequest(
            request, signedHeaders: parsed.signedHeaders, payloadHash: parsed.payloadHash,
            excludingSignature: parsed.kind != .header)
        let stringToSign = SigV4Crypto.stringToSign(
            amzDate: parsed.amzDate, scopeDate: parsed.scopeDate, region: parsed.region, service: parsed.service,
            canonicalRequest: canonicalRequest)
        guard SigV4Crypto.signatureMatches(key, stringToSign, signature: parsed.signature) else {
            throw SigV4Error(.signatureDoesNotMatch,
                             "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                             canonicalRequest: String(decoding: canonicalRequest, as: UTF8.self),
                             stringToSign: String(decoding: stringToSign, as: UTF8.self))
        }

        var unsigned: [String] = []
        // Lowercased only when the name starts with `x-amz-` in some case: most names do not.
        for header in request.headers where header.name.hasASCIIPrefixIgnoringCase("x-amz-") {
            let name = header.name.asciiLowercased
            if name != "x-amz-content-sha256", !parsed.signedHeaders.contains(name), !unsigned.contains(name) {
                unsigned.append(name)
            }
        }
        guard unsigned.isEmpty else {
            throw SigV4Error(.headersNotSigned,
                             "There were headers present in the request which were not signed: \(unsigned.joined(separator: ", ").prefix(512))")
        }

        let chunkContext: SigV4ChunkContext? = switch parsed.payload {
        case .streamingSigned, .streamingSignedTrailer:
            SigV4ChunkContext(signingKey: key.key, amzDate: parsed.amzDate, scope: parsed.scope, seedSignature: parsed.signature)
        default: nil
        }
        let declaredTrailers = request.values(of: "x-amz-trailer")
            .flatMap { $0.split(separator: ",") }
            .map { String($0).trimmingCharacters(in: .whitespaces).asciiLowercased }
            .filter { !$0.isEmpty }
        return SigV4Authenticated(accessKeyID: parsed.accessKeyID, payload: parsed.payload, kind: parsed.kind,
                                  requestDate: parsed.requestDate, chunkContext: chunkContext,
                                  declaredTrailers: declaredTrailers)
    }
}
