import Foundation
import GatewayCore

/// An access key pair used to sign or verify AWS Signature Version 4 requests.
public struct SigV4Credentials: Sendable, Hashable {
    /// The public access key ID (the `Credential=` prefix).
    public var accessKeyID: String
    /// The secret access key. Never log or echo it.
    public var secretAccessKey: String

    /// Creates a credential pair.
    /// - Parameters:
    ///   - accessKeyID: The public access key ID.
    ///   - secretAccessKey: The secret access key.
    public init(accessKeyID: String, secretAccessKey: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }
}

/// An HTTP request as received on the wire, reduced to what SigV4 needs.
public struct SigV4Request: Sendable {
    /// The HTTP method, e.g. `"GET"`, `"PUT"`.
    public var method: String
    /// The path exactly as on the wire: percent-encoded, without the query.
    public var rawPath: String
    /// The text after `?` exactly as on the wire; `""` when there is none.
    public var rawQuery: String {
        didSet { query = QueryString.items(rawQuery) }
    }
    /// ``rawQuery`` split and decoded, once per request (verification and routing both use it).
    public private(set) var query: QueryString.Parameters
    /// All request headers, names in any case, duplicates allowed. Include `Host`
    /// (for HTTP/2, synthesize it from `:authority`).
    public var headers: [(name: String, value: String)]

    /// Creates a request description.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - rawPath: The percent-encoded path as received, without the query.
    ///   - rawQuery: The query string as received, without `?`; `""` when none.
    ///   - headers: The request headers, in any case, duplicates allowed.
    public init(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.query = QueryString.items(rawQuery)
        self.headers = headers
    }

    /// The values of every header named `name` (case-insensitive), in order.
    func values(of name: String) -> [String] {
        headers.compactMap { $0.name.caseInsensitiveEquals(name) ? $0.value : nil }
    }

    /// The first value of the header named `name` (case-insensitive).
    func firstValue(of name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }
}

/// How the request body is protected, as declared by `x-amz-content-sha256`.
public enum SigV4PayloadMode: Sendable, Equatable {
    /// `UNSIGNED-PAYLOAD` (also the default for presigned URLs): the body is not covered.
    case unsigned
    /// A hex SHA-256 of the whole body (lowercased); the body must hash to it.
    case sha256(hex: String)
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body with a signature per chunk.
    case streamingSigned
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks plus signed trailers.
    case streamingSignedTrailer
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked body without signatures, plus trailers.
    case streamingUnsignedTrailer

    /// The exact `x-amz-content-sha256` value that declares this mode.
    public var headerValue: String {
        switch self {
        case .unsigned: "UNSIGNED-PAYLOAD"
        case .sha256(let hex): hex
        case .streamingSigned: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        case .streamingSignedTrailer: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        case .streamingUnsignedTrailer: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        }
    }

    /// Whether the body is aws-chunked encoded in this mode.
    public var isChunked: Bool {
        switch self {
        case .unsigned, .sha256: false
        case .streamingSigned, .streamingSignedTrailer, .streamingUnsignedTrailer: true
        }
    }

    /// Parses an `x-amz-content-sha256` value; `nil` when it is neither a known token nor 64 hex digits.
    /// - Parameter value: The header (or query parameter) value as sent.
    public init?(headerValue value: String) {
        switch value {
        case "UNSIGNED-PAYLOAD": self = .unsigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": self = .streamingSigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": self = .streamingSignedTrailer
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": self = .streamingUnsignedTrailer
        default:
            guard value.utf8.count == 64, value.utf8.allSatisfy(\.isHexDigit) else { return nil }
            self = .sha256(hex: value.lowercased())
        }
    }
}

/// An authentication failure, with a code that maps to an S3 error and a client-safe message.
public struct SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong. The raw value is a stable identifier, not the S3 error code.
    public enum Code: String, Sendable {
        /// Nothing usable (e.g. an empty `Authorization` header). S3: `MissingSecurityHeader`.
        case missingSecurityHeader
        /// The `Authorization` header is malformed (or names the wrong region). S3: `AuthorizationHeaderMalformed`.
        case authorizationHeaderMalformed
        /// Presigned-URL query parameters are malformed or out of range. S3: `AuthorizationQueryParametersError`.
        case authorizationQueryParametersError
        /// The access key is unknown (raised by the caller after ``SigV4Verifier/parse(_:)``). S3: `InvalidAccessKeyId`.
        case invalidAccessKeyID
        /// The signature does not match. S3: `SignatureDoesNotMatch`.
        case signatureDoesNotMatch
        /// Header-auth request time differs from the server clock by more than allowed. S3: `RequestTimeTooSkewed`.
        case requestTimeTooSkewed
        /// The presigned URL has expired. S3: `AccessDenied` "Request has expired".
        case requestExpired
        /// The presigned URL's `X-Amz-Date` lies in the future beyond the allowed skew. S3: `AccessDenied` "Request is not valid yet".
        case requestNotYetValid
        /// `x-amz-*` headers were sent but not signed. S3: `AccessDenied` "There were headers present in the request which were not signed".
        case headersNotSigned
        /// Not SigV4 with HMAC-SHA256 (SigV2, SigV4a, …). S3: `InvalidArgument` / `AuthorizationHeaderMalformed`.
        case unsupportedAlgorithm
        /// `x-amz-content-sha256` missing (header auth) or not a valid value. S3: `InvalidArgument`/`InvalidRequest`.
        case invalidPayloadHash
        /// The body does not hash to the declared SHA-256 (raised by the caller). S3: `XAmzContentSHA256Mismatch`.
        case contentSHA256Mismatch
        /// The aws-chunked body ended early. S3: `IncompleteBody`.
        case incompleteBody
        /// The aws-chunked framing is malformed or exceeds limits. S3: `InvalidRequest` / `IncompleteBody`.
        case invalidChunk
        /// A chunk's or the trailer's signature does not match. S3: `SignatureDoesNotMatch`.
        case chunkSignatureMismatch
        /// A declared trailer is absent. S3: `MalformedTrailerError`.
        case missingTrailer
        /// The trailer section is malformed. S3: `MalformedTrailerError`.
        case malformedTrailer
    }

    /// What went wrong.
    public let code: Code
    /// A message safe to send to clients (no secrets, no expected signature).
    public let message: String
    /// For ``Code/signatureDoesNotMatch``: the canonical request the server computed (not secret; AWS returns it too).
    public let canonicalRequest: String?
    /// For ``Code/signatureDoesNotMatch``: the string to sign the server computed (not secret; AWS returns it too).
    public let stringToSign: String?

    /// Creates an error.
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - message: A client-safe message.
    ///   - canonicalRequest: The server-side canonical request, for signature mismatches.
    ///   - stringToSign: The server-side string to sign, for signature mismatches.
    public init(_ code: Code, _ message: String, canonicalRequest: String? = nil, stringToSign: String? = nil) {
        self.code = code
        self.message = message
        self.canonicalRequest = canonicalRequest
        self.stringToSign = stringToSign
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code.rawValue): \(message)" }
}

extension UInt8 {
    var isHexDigit: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (the whitespace of HTTP header values), on
    /// bytes: Foundation's `trimmingCharacters(in:)` was a visible cost per request.
    var trimmingSpaces: String {
        let utf8 = self.utf8
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        guard let first = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        guard let last = utf8.lastIndex(where: { !isSpace($0) }) else { return "" }
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return self }
        return String(self[first...last])
    }

    /// Splits on an ASCII byte, keeping empty pieces (`split(separator:)` on `Character`s is
    /// several times slower).
    func splitBytes(_ separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == separator {
                pieces.append(self[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        pieces.append(self[start..<utf8.endIndex])
        return pieces
    }

    /// ASCII lowercase (header names).
    var asciiLowercased: String {
        guard utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return self }
        return String(decoding: utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
