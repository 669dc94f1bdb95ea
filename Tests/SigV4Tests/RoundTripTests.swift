import Foundation
import Testing
@testable import SigV4

/// Sign with our signer, verify with our verifier, and check that tampering is caught.
@Suite("Sign → verify round trips")
struct RoundTripTests {
    /// Object keys (decoded) that S3 allows and that stress the canonical URI.
    static let keys: [String] = [
        "plain.jpg",
        "with space/and more spaces.png",
        "a+b+c.txt",
        "100%25 not an escape %.txt",
        "question?mark#hash.txt",
        "unicode/日本語/ünïcødé/😀.jpg",
        "../dot/../segments/./x",
        "double//slash///key",
        "trailing/",
        "tilde~under_score-dash.dot",
        "=&;:@$,!'()*[]{}<>|\\^`\"",
        String(repeating: "k", count: 1024),
    ]

    static func encodedPath(bucket: String = "bucket", key: String) -> String {
        "/\(bucket)/" + SigV4Encoding.awsURIEncode(key, encodeSlash: false)
    }

    @Test("header auth round trip", arguments: keys)
    func headerRoundTrip(_ key: String) throws {
        let request = Fixture.signed(method: "PUT", path: Self.encodedPath(key: key),
                                     headers: [(name: "Host", value: "localhost:9000"), (name: "Content-Type", value: "image/png")])
        let auth = try Fixture.verify(request)
        #expect(auth.accessKeyID == Fixture.accessKey)
        #expect(auth.payload == .unsigned)
    }

    @Test("a path encoded differently but decoding to the same bytes still verifies")
    func equivalentEncodings() throws {
        // Signed with %2B for '+', sent with a literal '+': S3 decodes both to '+'.
        let signedRequest = Fixture.signed(path: "/bucket/a%2Bb%20c")
        var wire = signedRequest
        wire.rawPath = "/bucket/a+b%20c"
        _ = try Fixture.verify(wire)
        // …but a '+' is never a space in a path.
        wire.rawPath = "/bucket/a+b+c"
        #expect(Fixture.errorCode { _ = try Fixture.verify(wire) } == .signatureDoesNotMatch)
    }

    @Test("presigned round trip", arguments: keys)
    func presignedRoundTrip(_ key: String) throws {
        let path = Self.encodedPath(key: key)
        let query = Fixture.signer.presignedQuery(method: "GET", host: "localhost:9000", rawPath: path,
                                                  rawQuery: "response-content-type=image%2Fjpeg", expires: 3600,
                                                  date: Fixture.exampleDate)
        let request = SigV4Request(method: "GET", rawPath: path, rawQuery: query, headers: [(name: "Host", value: "localhost:9000")])
        let auth = try Fixture.verify(request, now: Fixture.exampleDate.addingTimeInterval(60))
        #expect(auth.kind == .presigned(expiresSeconds: 3600))
    }

    @Test("query parameters: order, '+' as space and encoding variants do not matter")
    func queryCanonicalization() throws {
        let request = Fixture.signed(path: "/bucket", query: "prefix=a%20b&delimiter=%2F&list-type=2&acl")
        var wire = request
        wire.rawQuery = "acl=&list-type=2&delimiter=/&prefix=a+b"
        _ = try Fixture.verify(wire)
    }

    // MARK: Tampering

    enum Tamper: String, CaseIterable, Sendable {
        case signedHeaderValue, addedDuplicateSignedHeader, path, queryValue, addedQueryParam, removedQueryParam,
             date, method, payloadHash, secret, signedHeaderList
    }

    @Test("tampering is detected", arguments: Tamper.allCases)
    func tampering(_ tamper: Tamper) {
        let original = Fixture.signed(method: "PUT", path: "/bucket/photo.jpg", query: "partNumber=1&uploadId=abc",
                                      headers: [(name: "Host", value: "localhost:9000"),
                                                (name: "x-amz-meta-owner", value: "alice")],
                                      payload: .sha256(hex: Fixture.emptySHA))
        var request = original
        var secret = Fixture.secret
        switch tamper {
        case .signedHeaderValue: request = request.replacingHeader("x-amz-meta-owner", with: "mallory")
        case .addedDuplicateSignedHeader: request.headers.append((name: "X-Amz-Meta-Owner", value: "mallory"))
        case .path: request.rawPath = "/bucket/photo.jpG"
        case .queryValue: request.rawQuery = "partNumber=2&uploadId=abc"
        case .addedQueryParam: request.rawQuery += "&versionId=1"
        case .removedQueryParam: request.rawQuery = "uploadId=abc"
        case .date: request = request.replacingHeader("x-amz-date", with: "20130524T000001Z")
        case .method: request.method = "POST"
        case .payloadHash: request = request.replacingHeader("x-amz-content-sha256", with: String(repeating: "0", count: 64))
        case .secret: secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ"
        case .signedHeaderList:
            // Drop x-amz-meta-owner from SignedHeaders (and the header): signature no longer matches.
            let auth = request.authorization.replacingOccurrences(of: ";x-amz-meta-owner", with: "")
            request = request.replacingHeader("Authorization", with: auth).replacingHeader("x-amz-meta-owner", with: nil)
        }
        #expect(Fixture.errorCode { _ = try Fixture.verify(original) } == nil)
        #expect(Fixture.errorCode { _ = try Fixture.verify(request, secret: secret) } == .signatureDoesNotMatch)
    }

    @Test("an unsigned x-amz-* header is refused")
    func unsignedAmzHeader() {
        var request = Fixture.signed(method: "PUT", path: "/bucket/k")
        request.headers.append((name: "x-amz-copy-source", value: "/other/secret"))
        #expect(Fixture.errorCode { _ = try Fixture.verify(request) } == .headersNotSigned)
        // In any case.
        var upper = Fixture.signed(method: "PUT", path: "/bucket/k")
        upper.headers.append((name: "X-AMZ-Tagging", value: "a=b"))
        #expect(Fixture.errorCode { _ = try Fixture.verify(upper) } == .headersNotSigned)
        // Unsigned non-amz headers are fine, names that only begin like one too.
        var ok = Fixture.signed(method: "PUT", path: "/bucket/k")
        ok.headers.append((name: "User-Agent", value: "curl"))
        ok.headers.append((name: "X-Amz", value: "1"))
        ok.headers.append((name: "x-amzfoo", value: "1"))
        #expect(Fixture.errorCode { _ = try Fixture.verify(ok) } == nil)
    }

    // MARK: Time

    @Test("clock skew: 14 minutes passes, 16 minutes fails, both directions", arguments: [-1.0, 1.0])
    func clockSkew(_ direction: Double) {
        let request = Fixture.signed(path: "/bucket/k")
        let ok = Fixture.errorCode { _ = try Fixture.verify(request, now: Fixture.exampleDate.addingTimeInterval(direction * 14 * 60)) }
        let bad = Fixture.errorCode { _ = try Fixture.verify(request, now: Fixture.exampleDate.addingTimeInterval(direction * 16 * 60)) }
        #expect(ok == nil)
        #expect(bad == .requestTimeTooSkewed)
    }

    @Test("presigned: expired, not yet valid, and expiry bounds")
    func presignedTime() {
        func request(expires: Int, date: Date = Fixture.exampleDate) -> SigV4Request {
            let q = Fixture.signer.presignedQuery(method: "GET", host: "h", rawPath: "/b/k", rawQuery: "", expires: expires, date: date)
            return SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: q, headers: [(name: "host", value: "h")])
        }
        let r = request(expires: 600)
        #expect(Fixture.errorCode { _ = try Fixture.verify(r, now: Fixture.exampleDate.addingTimeInterval(600)) } == nil)
        #expect(Fixture.errorCode { _ = try Fixture.verify(r, now: Fixture.exampleDate.addingTimeInterval(601)) } == .requestExpired)
        // Presigned URLs are not subject to the 15-minute skew in the past…
        let week = request(expires: 604_800)
        #expect(Fixture.errorCode { _ = try Fixture.verify(week, now: Fixture.exampleDate.addingTimeInterval(86_400 * 6)) } == nil)
        // …but one dated too far in the future is not valid yet.
        #expect(Fixture.errorCode { _ = try Fixture.verify(r, now: Fixture.exampleDate.addingTimeInterval(-16 * 60)) } == .requestNotYetValid)
        #expect(Fixture.errorCode { _ = try Fixture.verify(r, now: Fixture.exampleDate.addingTimeInterval(-14 * 60)) } == nil)
        // X-Amz-Expires beyond a week is refused at parse time.
        #expect(Fixture.errorCode { _ = try Fixture.verifier.parse(request(expires: 604_801)) } == .authorizationQueryParametersError)
        #expect(Fixture.errorCode { _ = try Fixture.verifier.parse(request(expires: 0)) } == .authorizationQueryParametersError)
    }

    @Test("presigned: a tampered X-Amz-Expires or host fails the signature")
    func presignedTamper() {
        let q = Fixture.signer.presignedQuery(method: "GET", host: "h:9000", rawPath: "/b/k", rawQuery: "", expires: 60,
                                              date: Fixture.exampleDate)
        let extended = SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: q.replacingOccurrences(of: "X-Amz-Expires=60", with: "X-Amz-Expires=6000"),
                                    headers: [(name: "host", value: "h:9000")])
        #expect(Fixture.errorCode { _ = try Fixture.verify(extended) } == .signatureDoesNotMatch)
        let otherHost = SigV4Request(method: "GET", rawPath: "/b/k", rawQuery: q, headers: [(name: "host", value: "h:9001")])
        #expect(Fixture.errorCode { _ = try Fixture.verify(otherHost) } == .signatureDoesNotMatch)
    }

    @Test("streaming modes round trip and yield a chunk context only when signed")
    func streamingModes() throws {
        for mode in [SigV4PayloadMode.streamingSigned, .streamingSignedTrailer, .streamingUnsignedTrailer] {
            let request = Fixture.signed(method: "PUT", path: "/b/k",
                                         headers: [(name: "Host", value: "h"), (name: "x-amz-trailer", value: "x-amz-checksum-crc32")],
                                         payload: mode)
            let auth = try Fixture.verify(request)
            #expect(auth.payload == mode)
            #expect((auth.chunkContext != nil) == (mode != .streamingUnsignedTrailer))
            #expect(auth.declaredTrailers == ["x-amz-checksum-crc32"])
        }
    }

    @Test("the key cache is used and bounded, and a rotated secret is not served from it")
    func keyCache() throws {
        let cache = SigningKeyCache(capacity: 4)
        let verifier = SigV4Verifier(region: "us-east-1", keyCache: cache)
        let request = Fixture.signed(path: "/b/k")
        _ = try Fixture.verify(request, verifier: verifier)
        _ = try Fixture.verify(request, verifier: verifier)
        #expect(cache.count == 1)
        #expect(Fixture.errorCode { _ = try Fixture.verify(request, verifier: verifier, secret: "rotated") } == .signatureDoesNotMatch)
        for day in 0..<20 {
            _ = cache.signingKey(accessKeyID: "a", secret: "s", date: String(20_130_501 + day), region: "r", service: "s3")
        }
        #expect(cache.count <= 4)
    }
}
