import Foundation
import Testing
import Crypto
@testable import SigV4

/// URI encoding, canonical URI/query/headers and date handling.
@Suite("Encoding and canonical forms")
struct EncodingTests {
    @Test("awsURIEncode keeps only unreserved characters (and '/' in paths)")
    func uriEncode() {
        #expect(SigV4Encoding.awsURIEncode("AZaz09-._~", encodeSlash: true) == "AZaz09-._~")
        #expect(SigV4Encoding.awsURIEncode("a b+c/d", encodeSlash: false) == "a%20b%2Bc/d")
        #expect(SigV4Encoding.awsURIEncode("a b+c/d", encodeSlash: true) == "a%20b%2Bc%2Fd")
        #expect(SigV4Encoding.awsURIEncode("é*", encodeSlash: true) == "%C3%A9%2A")
        #expect(SigV4Encoding.awsURIEncode("%", encodeSlash: true) == "%25")
    }

    @Test("sha256Hex")
    func sha() {
        #expect(SigV4Encoding.sha256Hex([UInt8]()) == Fixture.emptySHA)
        #expect(SigV4Encoding.sha256Hex(Array("Welcome to Amazon S3.".utf8))
            == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
    }

    @Test("canonical URI decodes then re-encodes, never normalizing", arguments: [
        ("/test%24file.text", "/test%24file.text"),
        ("/test$file.text", "/test%24file.text"),
        ("/a+b", "/a%2Bb"),
        ("/a%2bb", "/a%2Bb"),
        ("/a%20b", "/a%20b"),
        ("/%E6%97%A5", "/%E6%97%A5"),
        ("/日", "/%E6%97%A5"),
        ("/a/../b/./c//d/", "/a/../b/./c//d/"),
        ("/bad%zzescape%", "/bad%25zzescape%25"),
        ("/a%2Fb", "/a/b"),
        ("", "/"),
    ])
    func canonicalURI(_ raw: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalURI(rawPath: raw) == expected)
    }

    @Test("canonical query sorts, decodes '+' as space and re-encodes", arguments: [
        ("", ""),
        ("lifecycle", "lifecycle="),
        ("prefix=J&max-keys=2", "max-keys=2&prefix=J"),
        ("a=2&a=1&b", "a=1&a=2&b="),
        ("p=a+b&q=a%20b&r=a%2Bb", "p=a%20b&q=a%20b&r=a%2Bb"),
        ("d=/&e=%7e&f=*", "d=%2F&e=~&f=%2A"),
        ("&&x=1&", "x=1"),
        ("k=a=b", "k=a%3Db"),
        ("B=1&a=1&_=1", "B=1&_=1&a=1"),
        // A name that is a prefix of another sorts first; values too, the empty one first.
        ("ab=0&a=1&a=&a=10&a=0", "a=&a=0&a=1&a=10&ab=0"),
        // Byte order of the encoded forms: `%` (0x25) before digits and letters, `~` after.
        ("z=%C3%A9&z=~&z=A&z=%21", "z=%21&z=%C3%A9&z=A&z=~"),
    ])
    func canonicalQuery(_ raw: String, _ expected: String) {
        #expect(SigV4Canonical.canonicalQuery(rawQuery: raw, excludingSignature: false) == expected)
    }

    @Test("presigned canonical query drops X-Amz-Signature only")
    func dropsSignature() {
        #expect(SigV4Canonical.canonicalQuery(rawQuery: "X-Amz-Signature=abc&x-amz-signature=d&a=1", excludingSignature: true)
            == "a=1&x-amz-signature=d")
    }

    @Test("canonical headers trim, collapse whitespace and join duplicates")
    func canonicalHeaders() {
        let headers: [(name: String, value: String)] = [
            (name: "Host", value: " example.com "), (name: "X-Amz-Meta-A", value: "  one   two \t three "),
            (name: "x-amz-meta-a", value: "four"), (name: "Other", value: "x"),
        ]
        let text = SigV4Canonical.canonicalHeaders(signedHeaders: ["host", "x-amz-meta-a", "missing", "expect"], headers: headers)
        #expect(text == "host:example.com\nx-amz-meta-a:one two three,four\nmissing:\nexpect:100-continue\n")
    }

    @Test("dates parse and format exactly")
    func dates() throws {
        #expect(SigV4Date.amzDate(Fixture.exampleDate) == "20130524T000000Z")
        #expect(SigV4Date.parseAmzDate("20130524T000000Z") == Fixture.exampleDate)
        let leap = try #require(SigV4Date.parseAmzDate("20240229T235959Z"))
        #expect(SigV4Date.amzDate(leap) == "20240229T235959Z")
        #expect(SigV4Date.parseAmzDate("20230229T000000Z") == nil)
        #expect(SigV4Date.parseHTTPDate("Fri, 24 May 2013 00:00:00 GMT") == Fixture.exampleDate)
        #expect(SigV4Date.parseHTTPDate("Fri, 24 Mai 2013 00:00:00 GMT") == nil)
        #expect(SigV4Date.parseHTTPDate("Fri, 24 May 2013 00:00:00 UTC") == nil)
        #expect(SigV4Date.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(SigV4Date.amzDate(Date(timeIntervalSince1970: 4_102_444_799)) == "20991231T235959Z")
    }

    @Test("payload mode tokens")
    func payloadModes() {
        for mode in [SigV4PayloadMode.unsigned, .streamingSigned, .streamingSignedTrailer, .streamingUnsignedTrailer,
                     .sha256(hex: Fixture.emptySHA)] {
            #expect(SigV4PayloadMode(headerValue: mode.headerValue) == mode)
        }
        #expect(SigV4PayloadMode(headerValue: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")?.isChunked == true)
        #expect(SigV4PayloadMode(headerValue: String(Fixture.emptySHA.dropLast())) == nil)
    }

    @Test("constant-time comparison")
    func compare() {
        #expect(SigV4Encoding.constantTimeEquals("abcdef", "ABCDEF"))
        #expect(!SigV4Encoding.constantTimeEquals("abcdef", "abcdee"))
        #expect(!SigV4Encoding.constantTimeEquals("abcdef", "abcde"))
    }
}

/// ``SigningKey`` computes HMAC-SHA256 from two SHA-256 states of its own: it must equal
/// swift-crypto's `HMAC<SHA256>` for every key length (a block's worth of key is padded, a
/// longer key is hashed first) and message length (empty, within a block, across blocks).
struct SigningKeyHMACTests {
    @Test(arguments: [0, 1, 32, 63, 64, 65, 100, 200])
    func equalsSwiftCryptosHMAC(keyLength: Int) {
        let key = SymmetricKey(data: (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        let signing = SigningKey(key)
        for messageLength in [0, 1, 55, 56, 64, 119, 120, 300] {
            let message = (0..<messageLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ keyLength) }
            let ours = signing.withAuthenticationCode(for: message) { Array($0) }
            let theirs = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            #expect(ours == theirs, "key \(keyLength) bytes, message \(messageLength) bytes")
        }
    }
}
