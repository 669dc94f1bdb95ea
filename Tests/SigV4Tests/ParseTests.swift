import Foundation
import Testing
@testable import SigV4

/// Parsing of the Authorization header and presigned query parameters, and its errors.
@Suite("Parsing auth information")
struct ParseTests {
    static let scope = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
    static let sig = String(repeating: "a", count: 64)

    static func request(authorization: String?, query: String = "",
                        extra: [(name: String, value: String)] = [(name: "x-amz-date", value: "20130524T000000Z"),
                                                                   (name: "x-amz-content-sha256", value: "UNSIGNED-PAYLOAD")]) -> SigV4Request {
        var headers: [(name: String, value: String)] = [(name: "Host", value: "h")] + extra
        if let authorization { headers.append((name: "Authorization", value: authorization)) }
        return SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: query, headers: headers)
    }

    static func parseError(_ request: SigV4Request) -> SigV4Error? {
        do {
            _ = try Fixture.verifier.parse(request)
            return nil
        } catch {
            return error
        }
    }

    @Test("anonymous requests parse to nil")
    func anonymous() throws {
        #expect(try Fixture.verifier.parse(Self.request(authorization: nil)) == nil)
        #expect(try Fixture.verifier.parse(Self.request(authorization: nil, query: "prefix=a&X-Amz-Foo=1")) == nil)
    }

    @Test("tolerated Authorization spellings", arguments: [
        "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host;x-amz-date, Signature=\(sig)",
        "AWS4-HMAC-SHA256 Credential=\(scope),SignedHeaders=host;x-amz-date,Signature=\(sig)",
        "AWS4-HMAC-SHA256   Credential=\(scope) ,  SignedHeaders=host;x-amz-date ,Signature=\(sig)  ",
        "AWS4-HMAC-SHA256 Signature=\(sig), Credential=\(scope), SignedHeaders=Host;X-Amz-Date",
    ])
    func tolerated(_ authorization: String) throws {
        let parsed = try #require(try Fixture.verifier.parse(Self.request(authorization: authorization)))
        #expect(parsed.accessKeyID == "AKIAIOSFODNN7EXAMPLE")
        #expect(parsed.signedHeaders == ["host", "x-amz-date"])
        #expect(parsed.scope == "20130524/us-east-1/s3/aws4_request")
        #expect(parsed.kind == .header)
        #expect(parsed.payload == .unsigned)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var label: String
        var authorization: String
        var code: SigV4Error.Code
        var testDescription: String { label }
    }

    static let badHeaders: [Bad] = [
        Bad(label: "SigV2", authorization: "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", code: .unsupportedAlgorithm),
        Bad(label: "SigV4a", authorization: "AWS4-ECDSA-P256-SHA256 Credential=\(scope), SignedHeaders=host, Signature=\(sig)", code: .unsupportedAlgorithm),
        Bad(label: "Bearer", authorization: "Bearer abc", code: .unsupportedAlgorithm),
        Bad(label: "empty", authorization: "  ", code: .missingSecurityHeader),
        Bad(label: "no signature", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host", code: .authorizationHeaderMalformed),
        Bad(label: "unknown component", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host, Signature=\(sig), Foo=1", code: .authorizationHeaderMalformed),
        Bad(label: "repeated component", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), Credential=\(scope), SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "token without =", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host, Signature", code: .authorizationHeaderMalformed),
        Bad(label: "short credential", authorization: "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "bad terminator", authorization: "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "bad scope date", authorization: "AWS4-HMAC-SHA256 Credential=AK/2013-5-24/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "scope date differs from x-amz-date", authorization: "AWS4-HMAC-SHA256 Credential=AK/20130525/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "wrong service", authorization: "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "host not signed", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=x-amz-date, Signature=\(sig)", code: .authorizationHeaderMalformed),
        Bad(label: "empty signed header name", authorization: "AWS4-HMAC-SHA256 Credential=\(scope), SignedHeaders=host;;x-amz-date, Signature=\(sig)", code: .authorizationHeaderMalformed),
    ]

    @Test("malformed Authorization headers", arguments: badHeaders)
    func malformed(_ bad: Bad) {
        #expect(Self.parseError(Self.request(authorization: bad.authorization))?.code == bad.code)
    }

    @Test("wrong region names the expected region")
    func wrongRegion() throws {
        let error = try #require(Self.parseError(Self.request(authorization:
            "AWS4-HMAC-SHA256 Credential=AK/20130524/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=\(Self.sig)")))
        #expect(error.code == .authorizationHeaderMalformed)
        #expect(error.message.contains("'eu-west-1' is wrong; expecting 'us-east-1'"))
    }

    @Test("dates: Date header fallback, invalid dates")
    func dates() throws {
        let auth = "AWS4-HMAC-SHA256 Credential=\(Self.scope), SignedHeaders=host;date, Signature=\(Self.sig)"
        let withDate = Self.request(authorization: auth, extra: [(name: "Date", value: "Fri, 24 May 2013 00:00:00 GMT"),
                                                                 (name: "x-amz-content-sha256", value: "UNSIGNED-PAYLOAD")])
        let parsed = try #require(try Fixture.verifier.parse(withDate))
        #expect(parsed.requestDate == Fixture.exampleDate)
        #expect(parsed.amzDate == "20130524T000000Z")
        for bad in ["2013-05-24T00:00:00Z", "20130532T000000Z", "20130524T250000Z", "20130524T000000", ""] {
            let r = Self.request(authorization: auth, extra: [(name: "x-amz-date", value: bad), (name: "x-amz-content-sha256", value: "UNSIGNED-PAYLOAD")])
            #expect(Self.parseError(r)?.code == .authorizationHeaderMalformed, "\(bad)")
        }
        let none = Self.request(authorization: auth, extra: [(name: "x-amz-content-sha256", value: "UNSIGNED-PAYLOAD")])
        #expect(Self.parseError(none)?.code == .authorizationHeaderMalformed)
    }

    @Test("x-amz-content-sha256 is required and validated for header auth")
    func payloadHash() throws {
        let auth = "AWS4-HMAC-SHA256 Credential=\(Self.scope), SignedHeaders=host, Signature=\(Self.sig)"
        let date = (name: "x-amz-date", value: "20130524T000000Z")
        #expect(Self.parseError(Self.request(authorization: auth, extra: [date]))?.code == .invalidPayloadHash)
        for bad in ["abc", String(repeating: "g", count: 64), "STREAMING-AWS4-HMAC-SHA256-EVENTS", "unsigned-payload"] {
            let r = Self.request(authorization: auth, extra: [date, (name: "x-amz-content-sha256", value: bad)])
            #expect(Self.parseError(r)?.code == .invalidPayloadHash, "\(bad)")
        }
        let upper = String(repeating: "AB", count: 32)
        let r = Self.request(authorization: auth, extra: [date, (name: "x-amz-content-sha256", value: upper)])
        #expect(try Fixture.verifier.parse(r)?.payload == .sha256(hex: upper.lowercased()))
    }

    @Test("header and query auth together, or two Authorization headers, are refused")
    func twoMechanisms() {
        let auth = "AWS4-HMAC-SHA256 Credential=\(Self.scope), SignedHeaders=host, Signature=\(Self.sig)"
        #expect(Self.parseError(Self.request(authorization: auth, query: "X-Amz-Signature=\(Self.sig)"))?.code == .authorizationHeaderMalformed)
        var twice = Self.request(authorization: auth)
        twice.headers.append((name: "authorization", value: auth))
        #expect(Self.parseError(twice)?.code == .authorizationHeaderMalformed)
    }

    static let presignedBase = [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
        "X-Amz-Date=20130524T000000Z", "X-Amz-Expires=86400", "X-Amz-SignedHeaders=host", "X-Amz-Signature=\(sig)",
    ]

    static func presigned(replacing prefix: String, with replacement: String?) -> SigV4Request {
        var params = presignedBase.filter { !$0.hasPrefix(prefix + "=") }
        if let replacement { params.append(replacement) }
        return SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: params.joined(separator: "&"), headers: [(name: "host", value: "h")])
    }

    @Test("malformed presigned parameters", arguments: [
        ("X-Amz-Algorithm", "X-Amz-Algorithm=AWS4-HMAC-SHA1", SigV4Error.Code.unsupportedAlgorithm),
        ("X-Amz-Date", nil, .authorizationQueryParametersError),
        ("X-Amz-Date", "X-Amz-Date=20130524", .authorizationQueryParametersError),
        ("X-Amz-Expires", "X-Amz-Expires=604801", .authorizationQueryParametersError),
        ("X-Amz-Expires", "X-Amz-Expires=-1", .authorizationQueryParametersError),
        ("X-Amz-Expires", "X-Amz-Expires=abc", .authorizationQueryParametersError),
        ("X-Amz-Expires", "X-Amz-Expires=99999999999999999999999", .authorizationQueryParametersError),
        ("X-Amz-Credential", "X-Amz-Credential=AK%2F20130524%2Feu-west-1%2Fs3%2Faws4_request", .authorizationQueryParametersError),
        ("X-Amz-Credential", "X-Amz-Credential=AK", .authorizationQueryParametersError),
        ("X-Amz-SignedHeaders", "X-Amz-SignedHeaders=x-amz-date", .authorizationQueryParametersError),
        ("X-Amz-Signature", "X-Amz-Signature=", .authorizationQueryParametersError),
        ("X-Amz-None", "X-Amz-Signature=\(sig)", .authorizationQueryParametersError),
        ("X-Amz-None", "X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD", .invalidPayloadHash),
        ("X-Amz-None", "X-Amz-Content-Sha256=nonsense", .invalidPayloadHash),
    ] as [(String, String?, SigV4Error.Code)])
    func malformedPresigned(_ name: String, _ replacement: String?, _ code: SigV4Error.Code) {
        #expect(Self.parseError(Self.presigned(replacing: name, with: replacement))?.code == code)
    }

    @Test("presigned parses, and a SigV2 presigned URL is refused")
    func presignedParses() throws {
        let parsed = try #require(try Fixture.verifier.parse(Self.presigned(replacing: "X-Amz-None", with: nil)))
        #expect(parsed.kind == .presigned(expiresSeconds: 86400))
        #expect(parsed.payload == .unsigned)
        let withHash = Self.presigned(replacing: "X-Amz-None", with: "X-Amz-Content-Sha256=\(Fixture.emptySHA)")
        #expect(try Fixture.verifier.parse(withHash)?.payload == .sha256(hex: Fixture.emptySHA))
        let v2 = SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: "AWSAccessKeyId=AK&Expires=1&Signature=abc", headers: [])
        #expect(Self.parseError(v2)?.code == .unsupportedAlgorithm)
    }

    @Test("error messages never contain the secret or the expected signature")
    func messagesAreSafe() throws {
        let request = Fixture.signed(path: "/b/k")
        let parsed = try #require(try Fixture.verifier.parse(request))
        do {
            _ = try Fixture.verifier.verify(parsed, request: request, secretAccessKey: "another-secret", now: Fixture.exampleDate)
            Issue.record("expected a mismatch")
        } catch {
            let signer = SigV4Signer(credentials: SigV4Credentials(accessKeyID: Fixture.accessKey, secretAccessKey: "another-secret"),
                                     region: "us-east-1")
            let expected = signer.signRequest(method: "GET", rawPath: "/b/k", rawQuery: "", headers: [(name: "Host", value: "localhost:9000")],
                                              payload: .unsigned, date: Fixture.exampleDate).signature
            #expect(error.code == .signatureDoesNotMatch)
            for text in [error.message, error.description, error.canonicalRequest ?? "", error.stringToSign ?? ""] {
                #expect(!text.contains("another-secret"))
                #expect(!text.contains(expected))
            }
            #expect(error.canonicalRequest?.hasPrefix("GET\n/b/k\n") == true)
        }
    }
}
