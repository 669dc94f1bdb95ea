import Foundation

/// SigV4 authentication information parsed out of a request, before the secret is known.
///
/// Produced by ``SigV4Verifier/parse(_:)``; look up the secret for ``accessKeyID`` and pass
/// this to ``SigV4Verifier/verify(_:request:secretAccessKey:now:)``.
public struct SigV4ParsedAuth: Sendable {
    /// Where the signature was carried.
    public enum Kind: Sendable, Equatable {
        /// In the `Authorization` header.
        case header
        /// In a presigned URL's query, valid for `expiresSeconds` after `X-Amz-Date`.
        case presigned(expiresSeconds: Int)
    }

    /// The access key ID from the credential scope.
    public let accessKeyID: String
    /// Where the signature was carried.
    public let kind: Kind
    /// The credential scope's date, `yyyymmdd`.
    public let scopeDate: String
    /// The credential scope's region (equal to the verifier's region).
    public let region: String
    /// The credential scope's service (equal to the verifier's service).
    public let service: String
    /// The request time as used in the string to sign, ISO 8601 basic (`yyyyMMdd'T'HHmmss'Z'`).
    public let amzDate: String
    /// The request time (`X-Amz-Date`/`x-amz-date`, else `Date`).
    public let requestDate: Date
    /// The signed header names, lowercased, in the order given by the client.
    public let signedHeaders: [String]
    /// The declared payload mode.
    public let payload: SigV4PayloadMode
    /// The payload line of the canonical request, exactly as sent (or `UNSIGNED-PAYLOAD`).
    let payloadHash: String
    /// The signature the client sent.
    let signature: String

    /// `yyyymmdd/region/service/aws4_request`.
    public var scope: String { SigV4Crypto.scope(date: scopeDate, region: region, service: service) }
}

/// The parts of a `Credential` value.
struct SigV4CredentialScope {
    var accessKeyID: String
    var date: String
    var region: String
    var service: String

    /// Parses `AKID/yyyymmdd/region/service/aws4_request` (the key ID may itself contain `/`).
    static func parse(_ value: String) -> SigV4CredentialScope? {
        // The last four pieces are fixed; everything before them is the key ID.
        let utf8 = value.utf8
        let slash = UInt8(ascii: "/")
        guard let beforeTerminal = utf8.lastIndex(of: slash),
              let beforeService = utf8[..<beforeTerminal].lastIndex(of: slash),
              let beforeRegion = utf8[..<beforeService].lastIndex(of: slash),
              let beforeDate = utf8[..<beforeRegion].lastIndex(of: slash),
              value[utf8.index(after: beforeTerminal)...] == "aws4_request"
        else { return nil }
        let key = value[..<beforeDate]
        let date = value[utf8.index(after: beforeDate)..<beforeRegion]
        let region = value[utf8.index(after: beforeRegion)..<beforeService]
        let service = value[utf8.index(after: beforeService)..<beforeTerminal]
        guard date.utf8.count == 8, date.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard !key.isEmpty, !region.isEmpty, !service.isEmpty else { return nil }
        return SigV4CredentialScope(accessKeyID: String(key), date: String(date), region: String(region), service: String(service))
    }
}

extension SigV4Verifier {
    // MARK: Authorization header

    func parseHeaderAuth(_ authorization: String, request: SigV4Request) throws(SigV4Error) -> SigV4ParsedAuth {
        func malformed(_ detail: String) -> SigV4Error {
            SigV4Error(.authorizationHeaderMalformed, "The authorization header is malformed; \(detail)")
        }
        let value = authorization.trimmingSpaces
        guard !value.isEmpty else {
            throw SigV4Error(.missingSecurityHeader, "Your request was missing a required header: Authorization.")
        }
        let scheme = value.prefix { $0 != " " && $0 != "\t" }
        guard scheme == SigV4Crypto.algorithm else {
            if scheme == "AWS" {
                throw SigV4Error(.unsupportedAlgorithm, "Signature Version 2 is not supported; use AWS4-HMAC-SHA256.")
            }
            throw SigV4Error(.unsupportedAlgorithm, "Unsupported Authorization Type; only AWS4-HMAC-SHA256 is supported.")
        }
        var fields: [String: String] = [:]
        let rest = value.dropFirst(scheme.count)
        for token in rest.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            guard let eq = token.firstIndex(of: "=") else {
                throw malformed("the authorization component \"\(token.prefix(64))\" is malformed.")
            }
            let key = String(token[..<eq]), val = String(token[token.index(after: eq)...])
            guard ["Credential", "SignedHeaders", "Signature"].contains(key), fields[key] == nil else {
                throw malformed("the authorization component \"\(key.prefix(64))\" is unexpected or repeated.")
            }
            fields[key] = val
        }
        guard let credential = fields["Credential"], let signedHeaderList = fields["SignedHeaders"],
              let signature = fields["Signature"], !signature.isEmpty
        else {
            throw malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
        }
        guard let scope = SigV4CredentialScope.parse(credential) else {
            throw malformed("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        guard scope.region == region else {
            throw malformed("the region '\(scope.region.prefix(64))' is wrong; expecting '\(region)'")
        }
        guard scope.service == service else {
            throw malformed("incorrect service \"\(scope.service.prefix(64))\". This endpoint belongs to \"\(service)\".")
        }
        let signedHeaders = try Self.parseSignedHeaders(signedHeaderList) { malformed($0) }

        let date: Date, amzDate: String
        if let raw = request.firstValue(of: "x-amz-date") {
            guard let d = SigV4Date.parseAmzDate(raw.trimmingSpaces) else {
                throw malformed("AWS authentication requires a valid Date or x-amz-date header.")
            }
            date = d
            amzDate = raw.trimmingSpaces
        } else if let raw = request.firstValue(of: "date"), let d = SigV4Date.parseHTTPDate(raw) {
            date = d
            amzDate = SigV4Date.amzDate(d)
        } else {
            throw malformed("AWS authentication requires a valid Date or x-amz-date header.")
        }
        guard amzDate.hasPrefix(scope.date) else {
            throw malformed("Invalid credential date \"\(scope.date)\". This date is not the same as X-Amz-Date: \"\(amzDate.prefix(8))\".")
        }

        guard let payloadHash = request.firstValue(of: "x-amz-content-sha256")?.trimmingSpaces else {
            throw SigV4Error(.invalidPayloadHash, "Missing required header for this request: x-amz-content-sha256")
        }
        guard let payload = SigV4PayloadMode(headerValue: payloadHash) else {
            throw SigV4Error(.invalidPayloadHash, "The provided 'x-amz-content-sha256' header does not contain a valid SHA256.")
        }
        return SigV4ParsedAuth(accessKeyID: scope.accessKeyID, kind: .header, scopeDate: scope.date,
                               region: scope.region, service: scope.service, amzDate: amzDate, requestDate: date,
                               signedHeaders: signedHeaders, payload: payload, payloadHash: payloadHash,
                               signature: signature)
    }

    // MARK: Presigned query

    /// The query parameters of a presigned URL, in the order of ``presignedParameterNames``.
    private enum PresignedParameter: Int, CaseIterable {
        case algorithm, credential, signature, date, signedHeaders, expires, contentSHA256
    }

    private static let presignedParameterNames: [StaticString] = [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
        "X-Amz-Expires", "X-Amz-Content-Sha256",
    ]

    func parsePresigned(_ request: SigV4Request) throws(SigV4Error) -> SigV4ParsedAuth {
        func queryError(_ message: String) -> SigV4Error { SigV4Error(.authorizationQueryParametersError, message) }
        // Positions of the parameters SigV4 reads; any `X-Amz-*` parameter may appear once.
        let query = request.query
        var positions = [Int?](repeating: nil, count: PresignedParameter.allCases.count)
        var otherNames: Set<ArraySlice<UInt8>> = []
        for (position, item) in query.enumerated() where item.name.starts(with: "X-Amz-".utf8) {
            let known = Self.presignedParameterNames.firstIndex { item.nameIs($0) }
            let repeated = if let known { positions[known] != nil } else { !otherNames.insert(item.name).inserted }
            guard !repeated else {
                throw queryError("The query parameter \(String(decoding: item.name.prefix(64), as: UTF8.self)) is repeated.")
            }
            if let known { positions[known] = position }
        }
        let found = positions
        func params(_ parameter: PresignedParameter) -> String? {
            found[parameter.rawValue].map { String(decoding: query[$0].value, as: UTF8.self) }
        }
        guard let algorithm = params(.algorithm), let credential = params(.credential),
              let signature = params(.signature), let rawDate = params(.date),
              let signedHeaderList = params(.signedHeaders), let rawExpires = params(.expires),
              !signature.isEmpty
        else {
            throw queryError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        }
        guard algorithm == SigV4Crypto.algorithm else {
            throw SigV4Error(.unsupportedAlgorithm, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        }
        guard let scope = SigV4CredentialScope.parse(credential) else {
            throw queryError("Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        guard scope.region == region else {
            throw queryError("Error parsing the X-Amz-Credential parameter; the region '\(scope.region.prefix(64))' is wrong; expecting '\(region)'")
        }
        guard scope.service == service else {
            throw queryError("Error parsing the X-Amz-Credential parameter; incorrect service \"\(scope.service.prefix(64))\". This endpoint belongs to \"\(service)\".")
        }
        guard let date = SigV4Date.parseAmzDate(rawDate) else {
            throw queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        }
        guard rawDate.hasPrefix(scope.date) else {
            throw queryError("Invalid credential date \"\(scope.date)\". This date is not the same as X-Amz-Date: \"\(rawDate.prefix(8))\".")
        }
        guard rawExpires.utf8.count <= 12, let expires = Int(rawExpires) else {
            throw queryError("X-Amz-Expires should be a number")
        }
        guard expires >= 1 else { throw queryError("X-Amz-Expires must be at least 1 (seconds)") }
        guard expires <= maxPresignedExpiry else {
            throw queryError("X-Amz-Expires must be less than a week (in seconds) that is \(maxPresignedExpiry)")
        }
        let signedHeaders = try Self.parseSignedHeaders(signedHeaderList) { queryError("Error parsing the X-Amz-SignedHeaders parameter; \($0)") }

        let payloadHash = (params(.contentSHA256) ?? request.firstValue(of: "x-amz-content-sha256")
            ?? "UNSIGNED-PAYLOAD").trimmingSpaces
        guard let payload = SigV4PayloadMode(headerValue: payloadHash) else {
            throw SigV4Error(.invalidPayloadHash, "The provided 'x-amz-content-sha256' does not contain a valid SHA256.")
        }
        if payload == .streamingSigned || payload == .streamingSignedTrailer {
            throw SigV4Error(.invalidPayloadHash, "Signed streaming payloads are not supported with presigned URLs.")
        }
        return SigV4ParsedAuth(accessKeyID: scope.accessKeyID, kind: .presigned(expiresSeconds: expires),
                               scopeDate: scope.date, region: scope.region, service: scope.service, amzDate: rawDate,
                               requestDate: date, signedHeaders: signedHeaders, payload: payload,
                               payloadHash: payloadHash, signature: signature)
    }

    /// Splits `a;b;c`, lowercases, and requires `host`.
    static func parseSignedHeaders(_ list: String, error: (String) -> SigV4Error) throws(SigV4Error) -> [String] {
        let names = list.splitBytes(UInt8(ascii: ";")).map { String($0).asciiLowercased }
        guard !names.isEmpty, names.count <= 256,
              names.allSatisfy({ !$0.isEmpty && !$0.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: ":") }) })
        else {
            throw error("the SignedHeaders list is malformed.")
        }
        guard names.contains("host") else {
            throw error("the host header must be signed.")
        }
        return names
    }
}
