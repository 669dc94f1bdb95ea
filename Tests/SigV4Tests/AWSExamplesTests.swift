import Foundation
import Testing
@testable import SigV4

/// The published examples of "Examples: Signature Calculations in AWS Signature Version 4" (S3),
/// checked both ways: our verifier accepts them and our signer reproduces them.
@Suite("AWS documented examples")
struct AWSExamplesTests {
    struct HeaderExample: CustomTestStringConvertible, Sendable {
        var name: String
        var method: String
        var path: String
        var query: String
        var headers: [(name: String, value: String)]
        var payloadHash: String
        var signedHeaders: String
        var signature: String
        var testDescription: String { name }
    }

    static let host = (name: "Host", value: "examplebucket.s3.amazonaws.com")

    static let headerExamples: [HeaderExample] = [
        HeaderExample(name: "GET Object with Range", method: "GET", path: "/test.txt", query: "",
                      headers: [host, (name: "Range", value: "bytes=0-9")],
                      payloadHash: Fixture.emptySHA, signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
                      signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        HeaderExample(name: "PUT Object", method: "PUT", path: "/test%24file.text", query: "",
                      headers: [host, (name: "Date", value: "Fri, 24 May 2013 00:00:00 GMT"),
                                (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY")],
                      payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                      signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                      signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        HeaderExample(name: "GET Bucket Lifecycle", method: "GET", path: "/", query: "lifecycle", headers: [host],
                      payloadHash: Fixture.emptySHA, signedHeaders: "host;x-amz-content-sha256;x-amz-date",
                      signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        HeaderExample(name: "GET Bucket (List Objects)", method: "GET", path: "/", query: "max-keys=2&prefix=J", headers: [host],
                      payloadHash: Fixture.emptySHA, signedHeaders: "host;x-amz-content-sha256;x-amz-date",
                      signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    static func wireRequest(_ e: HeaderExample) -> SigV4Request {
        let authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=\(e.signedHeaders),Signature=\(e.signature)"
        return SigV4Request(method: e.method, rawPath: e.path, rawQuery: e.query,
                            headers: e.headers + [(name: "x-amz-date", value: "20130524T000000Z"),
                                                  (name: "x-amz-content-sha256", value: e.payloadHash),
                                                  (name: "Authorization", value: authorization)])
    }

    @Test("verifier accepts the example", arguments: headerExamples)
    func verifierAccepts(_ e: HeaderExample) throws {
        let auth = try Fixture.verify(Self.wireRequest(e))
        #expect(auth.accessKeyID == Fixture.accessKey)
        #expect(auth.kind == .header)
        #expect(auth.payload == .sha256(hex: e.payloadHash))
        #expect(auth.requestDate == Fixture.exampleDate)
        #expect(auth.chunkContext == nil)
    }

    @Test("verifier rejects the example with one signature digit changed", arguments: headerExamples)
    func verifierRejectsAlteredSignature(_ e: HeaderExample) {
        var altered = e
        altered.signature = String(e.signature.dropLast()) + (e.signature.hasSuffix("0") ? "1" : "0")
        let code = Fixture.errorCode { _ = try Fixture.verify(Self.wireRequest(altered)) }
        #expect(code == .signatureDoesNotMatch)
    }

    @Test("signer reproduces the example", arguments: headerExamples)
    func signerReproduces(_ e: HeaderExample) {
        let result = Fixture.signer.signRequest(method: e.method, rawPath: e.path, rawQuery: e.query, headers: e.headers,
                                                payload: .sha256(hex: e.payloadHash), date: Fixture.exampleDate)
        #expect(result.signature == e.signature)
        let expectedAuthorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=\(e.signedHeaders), Signature=\(e.signature)"
        #expect(result.headers.first { $0.name == "Authorization" }?.value == expectedAuthorization)
        #expect(result.headers.first { $0.name == "x-amz-date" }?.value == "20130524T000000Z")
    }

    @Test("GET Object canonical request matches the documented text")
    func getObjectCanonicalRequest() {
        let e = Self.headerExamples[0]
        let result = Fixture.signer.signRequest(method: e.method, rawPath: e.path, rawQuery: e.query, headers: e.headers,
                                                payload: .sha256(hex: e.payloadHash), date: Fixture.exampleDate)
        #expect(result.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(result.stringToSign == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
    }

    // MARK: Presigned URL

    static let presignedQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

    @Test("presigned URL example: signer reproduces the query")
    func presignedSigner() {
        let query = Fixture.signer.presignedQuery(method: "GET", host: "examplebucket.s3.amazonaws.com", rawPath: "/test.txt",
                                                  rawQuery: "", expires: 86400, date: Fixture.exampleDate)
        #expect(query == Self.presignedQuery)
    }

    @Test("presigned URL example: verifier accepts it while valid and rejects it after expiry")
    func presignedVerifier() throws {
        let request = SigV4Request(method: "GET", rawPath: "/test.txt", rawQuery: Self.presignedQuery, headers: [Self.host])
        let auth = try Fixture.verify(request, now: Fixture.exampleDate.addingTimeInterval(3600))
        #expect(auth.kind == .presigned(expiresSeconds: 86400))
        #expect(auth.payload == .unsigned)
        #expect(auth.accessKeyID == Fixture.accessKey)
        let late = Fixture.errorCode { _ = try Fixture.verify(request, now: Fixture.exampleDate.addingTimeInterval(86401)) }
        #expect(late == .requestExpired)
        let wrongMethod = SigV4Request(method: "PUT", rawPath: "/test.txt", rawQuery: Self.presignedQuery, headers: [Self.host])
        #expect(Fixture.errorCode { _ = try Fixture.verify(wrongMethod, now: Fixture.exampleDate) } == .signatureDoesNotMatch)
    }

    // MARK: Chunked upload

    static let chunkHeaders: [(name: String, value: String)] = [
        (name: "Host", value: "s3.amazonaws.com"),
        (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY"),
        (name: "Content-Encoding", value: "aws-chunked"),
        (name: "x-amz-decoded-content-length", value: "66560"),
        (name: "Content-Length", value: "66824"),
    ]
    static let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    static let chunkSignatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]
    static let chunkBody = [UInt8](repeating: UInt8(ascii: "a"), count: 65 * 1024)

    /// The example body, built by hand from the documented signatures.
    static var documentedChunkedBody: [UInt8] {
        var body = [UInt8]()
        body += Array("10000;chunk-signature=\(chunkSignatures[0])\r\n".utf8) + chunkBody[0..<65536] + [13, 10]
        body += Array("400;chunk-signature=\(chunkSignatures[1])\r\n".utf8) + chunkBody[65536...] + [13, 10]
        body += Array("0;chunk-signature=\(chunkSignatures[2])\r\n\r\n".utf8)
        return body
    }

    @Test("chunked upload example: signer reproduces the seed and every chunk")
    func chunkedSigner() {
        let result = Fixture.signer.signRequest(method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "",
                                                headers: Self.chunkHeaders, payload: .streamingSigned, date: Fixture.exampleDate)
        #expect(result.signature == Self.seed)
        let encoded = Fixture.signer.encodeSignedChunks(Self.chunkBody, chunkSize: 65536, seedSignature: result.signature,
                                                        date: Fixture.exampleDate, trailers: nil)
        #expect(encoded.count == 66824)
        #expect(encoded == Self.documentedChunkedBody)
    }

    @Test("chunked upload example: verifier accepts the seed and the decoder the chunks")
    func chunkedVerifier() throws {
        let authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=\(Self.seed)"
        let request = SigV4Request(method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "",
                                   headers: Self.chunkHeaders + [
                                       (name: "x-amz-date", value: "20130524T000000Z"),
                                       (name: "x-amz-content-sha256", value: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                                       (name: "Authorization", value: authorization),
                                   ])
        let auth = try Fixture.verify(request)
        #expect(auth.payload == .streamingSigned)
        let context = try #require(auth.chunkContext)
        #expect(context.seedSignature == Self.seed)
        #expect(context.scope == "20130524/us-east-1/s3/aws4_request")

        var decoder = AWSChunkedDecoder(mode: .signed(context, trailer: false))
        decoder.append(Self.documentedChunkedBody)
        var data = [UInt8]()
        var ended = false
        while let event = try decoder.next() {
            switch event {
            case .data(let bytes): data += bytes
            case .trailers: Issue.record("unexpected trailers")
            case .end: ended = true
            }
        }
        try decoder.finish()
        #expect(ended)
        #expect(data == Self.chunkBody)
    }
}
