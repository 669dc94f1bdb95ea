import Crypto
import Foundation
import GatewayCore

/// The result of signing a request with ``SigV4Signer/signRequest(method:rawPath:rawQuery:headers:payload:date:)``.
public struct SigV4SignedRequest: Sendable {
    /// Headers to add: `Authorization`, `x-amz-date`, `x-amz-content-sha256`.
    public var headers: [(name: String, value: String)]
    /// The request signature (the seed signature of a signed aws-chunked body).
    public var signature: String
    /// The canonical request that was signed (for debugging).
    public var canonicalRequest: String
    /// The string to sign (for debugging).
    public var stringToSign: String
}

/// Signs requests with AWS Signature Version 4 (client side): header auth, presigned URLs and
/// aws-chunked bodies. Used by the CLI `presign`, by tests and by the upstream store.
public struct SigV4Signer: Sendable {
    /// The signing credentials.
    public let credentials: SigV4Credentials
    /// The region in the credential scope.
    public let region: String
    /// The service in the credential scope.
    public let service: String

    /// Headers never signed (they are changed by proxies or added later).
    static let unsignedHeaderNames: Set<String> = ["authorization", "user-agent", "expect", "x-amzn-trace-id", "connection"]

    /// Creates a signer.
    /// - Parameters:
    ///   - credentials: The access key pair.
    ///   - region: The region of the credential scope.
    ///   - service: The service of the credential scope; `s3`.
    public init(credentials: SigV4Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Signs a request for header authentication.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - rawPath: The percent-encoded path as it will be sent.
    ///   - rawQuery: The query as it will be sent, without `?`.
    ///   - headers: The headers to sign; must include `Host`. `Authorization`, `User-Agent`, `Expect` are not signed.
    ///   - payload: The payload mode; its ``SigV4PayloadMode/headerValue`` becomes `x-amz-content-sha256`.
    ///   - date: The request time.
    /// - Returns: The headers to add: `Authorization`, `x-amz-date`, `x-amz-content-sha256`.
    public func sign(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)],
                     payload: SigV4PayloadMode, date: Date) -> [(name: String, value: String)] {
        signRequest(method: method, rawPath: rawPath, rawQuery: rawQuery, headers: headers, payload: payload, date: date).headers
    }

    /// Signs a request for header authentication and also returns the signature and intermediate strings.
    /// - Parameters: See ``sign(method:rawPath:rawQuery:headers:payload:date:)``.
    /// - Returns: The headers to add, the signature and the signed strings.
    public func signRequest(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)],
                            payload: SigV4PayloadMode, date: Date) -> SigV4SignedRequest {
        let amzDate = SigV4Date.amzDate(date)
        let day = String(amzDate.prefix(8))
        let payloadHash = payload.headerValue
        var all = headers.filter {
            let n = $0.name.asciiLowercased
            return n != "x-amz-date" && n != "x-amz-content-sha256" && !Self.unsignedHeaderNames.contains(n)
        }
        all.append((name: "x-amz-date", value: amzDate))
        all.append((name: "x-amz-content-sha256", value: payloadHash))
        var names = [String]()
        for h in all {
            let n = h.name.asciiLowercased
            if !names.contains(n) { names.append(n) }
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = SigV4Canonical.canonicalRequest(
            method: method, canonicalURI: SigV4Canonical.canonicalURI(rawPath: rawPath),
            canonicalQuery: SigV4Canonical.canonicalQuery(rawQuery: rawQuery, excludingSignature: false),
            canonicalHeaders: SigV4Canonical.canonicalHeaders(signedHeaders: names, headers: all),
            signedHeaders: signedHeaders, payloadHash: payloadHash)
        let scope = SigV4Crypto.scope(date: day, region: region, service: service)
        let stringToSign = SigV4Crypto.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        let signature = SigV4Crypto.signatureHex(signingKey(day: day), stringToSign)
        let authorization = "\(SigV4Crypto.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return SigV4SignedRequest(
            headers: [(name: "Authorization", value: authorization), (name: "x-amz-date", value: amzDate),
                      (name: "x-amz-content-sha256", value: payloadHash)],
            signature: signature, canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    /// Builds the query string of a presigned URL (`host` and `headers` are signed; the payload is `UNSIGNED-PAYLOAD`).
    /// - Parameters:
    ///   - method: The HTTP method the URL is for.
    ///   - host: The `Host` the URL will be sent to (with `:port` when not the default).
    ///   - rawPath: The percent-encoded path.
    ///   - rawQuery: Any other query parameters, encoded, without `?`; `""` when none.
    ///   - expires: Validity in seconds (1…604800).
    ///   - date: The signing time.
    /// - Returns: `rawQuery` followed by the `X-Amz-*` parameters including `X-Amz-Signature`.
    public func presignedQuery(method: String, host: String, rawPath: String, rawQuery: String, expires: Int,
                               date: Date, headers: [(name: String, value: String)] = []) -> String {
        let amzDate = SigV4Date.amzDate(date)
        let day = String(amzDate.prefix(8))
        let scope = SigV4Crypto.scope(date: day, region: region, service: service)
        let signed = ([(name: "host", value: host)] + headers.map { (name: $0.name.lowercased(), value: $0.value) })
            .sorted { $0.name < $1.name }
        let signedNames = signed.map(\.name).joined(separator: ";")
        let params = [
            ("X-Amz-Algorithm", SigV4Crypto.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", signedNames),
        ]
        var query = rawQuery
        for (name, value) in params {
            if !query.isEmpty { query += "&" }
            query += name + "=" + SigV4Encoding.awsURIEncode(value, encodeSlash: true)
        }
        let canonicalHeaders = signed.map { "\($0.name):\(SigV4Canonical.trimAll($0.value))\n" }.joined()
        let canonicalRequest = SigV4Canonical.canonicalRequest(
            method: method, canonicalURI: SigV4Canonical.canonicalURI(rawPath: rawPath),
            canonicalQuery: SigV4Canonical.canonicalQuery(rawQuery: query, excludingSignature: false),
            canonicalHeaders: canonicalHeaders, signedHeaders: signedNames,
            payloadHash: SigV4PayloadMode.unsigned.headerValue)
        let stringToSign = SigV4Crypto.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        let signature = SigV4Crypto.signatureHex(signingKey(day: day), stringToSign)
        return query + "&X-Amz-Signature=" + signature
    }

    /// A presigned path-style URL for one object.
    /// - Parameters:
    ///   - scheme: `http` or `https`.
    ///   - host: the `Host` clients will send (`127.0.0.1:9000`).
    ///   - headers: extra headers the user of the URL must send with these values (signed).
    public func presignedURL(method: String, scheme: String, host: String, bucket: String, key: String, expires: Int,
                             date: Date, headers: [(name: String, value: String)] = []) -> String {
        let rawPath = "/" + PercentEncoding.encode(bucket, encodeSlash: true) + "/" + PercentEncoding.encode(key, encodeSlash: false)
        let query = presignedQuery(method: method, host: host, rawPath: rawPath, rawQuery: "", expires: expires, date: date, headers: headers)
        return "\(scheme)://\(host)\(rawPath)?\(query)"
    }

    /// Encodes a body as signed aws-chunked (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, or `…-TRAILER` when
    /// `trailers` is non-nil).
    /// - Parameters:
    ///   - body: The payload.
    ///   - chunkSize: Bytes per data chunk (the last may be shorter).
    ///   - seedSignature: The signature of the request headers (``SigV4SignedRequest/signature``).
    ///   - date: The request time used when signing the headers.
    ///   - trailers: Trailing headers to append and sign, or `nil` for no trailer section.
    /// - Returns: The encoded body.
    public func encodeSignedChunks(_ body: [UInt8], chunkSize: Int, seedSignature: String, date: Date,
                                   trailers: [(name: String, value: String)]?) -> [UInt8] {
        let amzDate = SigV4Date.amzDate(date)
        let day = String(amzDate.prefix(8))
        let key = signingKey(day: day)
        let scope = SigV4Crypto.scope(date: day, region: region, service: service)
        var previous = seedSignature
        var out = [UInt8]()
        out.reserveCapacity(body.count + (body.count / max(1, chunkSize) + 2) * 90)
        func emitChunk(_ data: ArraySlice<UInt8>) {
            let stringToSign = SigV4Crypto.chunkStringToSign(amzDate: amzDate, scope: scope, previousSignature: previous,
                                                             chunkHashHex: SigV4Encoding.sha256Hex(data))
            previous = SigV4Crypto.signatureHex(key, stringToSign)
            out += Array("\(String(data.count, radix: 16));chunk-signature=\(previous)\r\n".utf8)
            out += data
            if !data.isEmpty { out += [0x0D, 0x0A] }
        }
        var offset = 0
        let step = max(1, chunkSize)
        while offset < body.count {
            let end = min(body.count, offset + step)
            emitChunk(body[offset..<end])
            offset = end
        }
        emitChunk([])
        if let trailers {
            let normalized = trailers.map { SigV4Trailer(name: $0.name.asciiLowercased, value: SigV4Canonical.trimAll($0.value)) }
            let text = normalized.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
                .map { "\($0.name):\($0.value)\n" }.joined()
            let stringToSign = SigV4Crypto.trailerStringToSign(amzDate: amzDate, scope: scope, previousSignature: previous,
                                                               trailerHashHex: SigV4Encoding.sha256Hex(Array(text.utf8)))
            for t in normalized { out += Array("\(t.name):\(t.value)\r\n".utf8) }
            out += Array("x-amz-trailer-signature:\(SigV4Crypto.signatureHex(key, stringToSign))\r\n".utf8)
        }
        out += [0x0D, 0x0A]
        return out
    }

    /// Encodes a body as unsigned aws-chunked with trailers (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    /// - Parameters:
    ///   - body: The payload.
    ///   - chunkSize: Bytes per data chunk.
    ///   - trailers: Trailing headers to append.
    /// - Returns: The encoded body.
    public static func encodeUnsignedChunks(_ body: [UInt8], chunkSize: Int, trailers: [(name: String, value: String)]) -> [UInt8] {
        var out = [UInt8]()
        var offset = 0
        let step = max(1, chunkSize)
        while offset < body.count {
            let end = min(body.count, offset + step)
            out += Array("\(String(end - offset, radix: 16))\r\n".utf8)
            out += body[offset..<end]
            out += [0x0D, 0x0A]
            offset = end
        }
        out += Array("0\r\n".utf8)
        for t in trailers { out += Array("\(t.name):\(t.value)\r\n".utf8) }
        out += [0x0D, 0x0A]
        return out
    }

    private func signingKey(day: String) -> SymmetricKey {
        SigV4Crypto.deriveSigningKey(secret: credentials.secretAccessKey, date: day, region: region, service: service)
    }
}
