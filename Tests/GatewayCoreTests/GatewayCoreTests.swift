import Foundation
import Testing

@testable import GatewayCore

struct HTTPDateTests {
    @Test func formatsRFC1123AndISO8601() {
        let date = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(HTTPDate.rfc1123(date) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.iso8601(date) == "1994-11-06T08:49:37.000Z")
        #expect(HTTPDate.iso8601(Date(timeIntervalSince1970: 1_700_000_000.25)) == "2023-11-14T22:13:20.250Z")
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37Z",
        "1994-11-06T08:49:37.000Z",
    ])
    func parsesHTTPDateForms(_ text: String) {
        #expect(HTTPDate.parse(text) == Date(timeIntervalSince1970: 784_111_777))
    }

    @Test(arguments: ["", "yesterday", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "1994-13-06T08:49:37Z", "Sat, 30 Feb 2019 10:00:00 GMT", "2019-04-31T00:00:00Z", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 +0200"])
    func rejectsGarbage(_ text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }

    @Test func roundTripsAcrossCenturiesAndLeapDays() {
        for seconds in stride(from: -2_000_000_000, through: 4_000_000_000, by: 86_399 * 37) {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(HTTPDate.parse(HTTPDate.rfc1123(date)) == date)
        }
        #expect(HTTPDate.rfc1123(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 GMT")
    }
}

struct PercentEncodingTests {
    @Test func decodesPathAndQueryDifferently() {
        #expect(PercentEncoding.decode("a+b%20c", plusAsSpace: false) == "a+b c")
        #expect(PercentEncoding.decode("a+b%20c", plusAsSpace: true) == "a b c")
        #expect(PercentEncoding.decode("%E6%97%A5", plusAsSpace: false) == "日")
    }

    /// `decodeBytes` and `appendDecoded` copy a part with nothing to decode whole; a `+` is
    /// something to decode only with `plusAsSpace`.
    @Test func bytesWithAndWithoutAnythingToDecode() {
        var malformed = false
        #expect(PercentEncoding.decodeBytes(Array("a-b.c~d".utf8), plusAsSpace: true, malformed: &malformed) == Array("a-b.c~d".utf8))
        #expect(PercentEncoding.decodeBytes(Array("a+b".utf8), plusAsSpace: true, malformed: &malformed) == Array("a b".utf8))
        #expect(PercentEncoding.decodeBytes(Array("a+b".utf8), plusAsSpace: false, malformed: &malformed) == Array("a+b".utf8))
        #expect(!malformed)
        var out = Array("x=".utf8)
        PercentEncoding.appendDecoded(Array("1+2%2F3".utf8)[...], plusAsSpace: true, malformed: &malformed, to: &out)
        PercentEncoding.appendDecoded(Array("&y".utf8)[...], plusAsSpace: true, malformed: &malformed, to: &out)
        #expect(out == Array("x=1 2/3&y".utf8))
        #expect(!malformed)
        #expect(PercentEncoding.decodeBytes(Array("a%4".utf8), plusAsSpace: true, malformed: &malformed) == Array("a%4".utf8))
        #expect(malformed)
    }

    @Test(arguments: ["%", "%4", "%ZZ", "%C3%28", "%FF"])
    func rejectsMalformed(_ text: String) {
        #expect(PercentEncoding.decode(text, plusAsSpace: false) == nil)
    }

    @Test func encodesLikeAWS() {
        #expect(PercentEncoding.encode("a b+c/d~e_f.g-h", encodeSlash: false) == "a%20b%2Bc/d~e_f.g-h")
        #expect(PercentEncoding.encode("a/b", encodeSlash: true) == "a%2Fb")
        #expect(PercentEncoding.encode("é", encodeSlash: true) == "%C3%A9")
    }
}

struct BucketNameTests {
    @Test(arguments: ["abc", "my-bucket", "my.bucket.name", "a1b", String(repeating: "a", count: 63)])
    func accepts(_ name: String) { #expect(BucketName.isValid(name)) }

    @Test(arguments: ["ab", "ABC", "-abc", "abc-", "a..b", "_mediagate", "a_b", "192.168.1.1", String(repeating: "a", count: 64), "a b"])
    func rejects(_ name: String) { #expect(!BucketName.isValid(name)) }
}
