import Foundation
import Testing

@testable import Policy

/// Key globs (docs/policy.md "Rules"): `*` within one segment, `**` any number of segments,
/// `{name}` one segment captured; keys compare as bytes.
struct KeyPatternTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var pattern: String
        var key: String
        /// The captures on a match; nil for no match.
        var captures: [String: String]?
        var testDescription: String {
            let shown = captures.map { found in found.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
            return "'\(pattern)' ~ '\(key)' → \(shown.map { "[\($0)]" } ?? "no match")"
        }
    }

    static func row(_ pattern: String, _ key: String, _ captures: [String: String]?) -> Row {
        Row(pattern: pattern, key: key, captures: captures)
    }

    static let table: [Row] = [
        // `**` matches every key, the empty one included.
        row("**", "", [:]),
        row("**", "a", [:]),
        row("**", "a/b/c", [:]),
        row("**", "a//b/", [:]),
        // `photos/**`: the folder itself, anything under it, nothing beside it.
        row("photos/**", "photos", [:]),
        row("photos/**", "photos/", [:]),
        row("photos/**", "photos/a/b.jpg", [:]),
        row("photos/**", "photosx/a", nil),
        row("photos/**", "Photos/a", nil),
        row("photos/**", "x/photos/a", nil),
        row("photos/**", "", nil),
        // One captured segment.
        row("selfies/{subject}/**", "selfies/u1/a.jpg", ["subject": "u1"]),
        row("selfies/{subject}/**", "selfies/u1", ["subject": "u1"]),
        row("selfies/{subject}/**", "selfies/u1/a/b/c.jpg", ["subject": "u1"]),
        row("selfies/{subject}/**", "selfies//x", ["subject": ""]),
        row("selfies/{subject}/**", "selfie/u1/x", nil),
        row("selfies/{subject}/**", "selfies", nil),
        row("selfies/{subject}/**", "acme/selfies/u1/x", nil),
        // `*` stays within its segment and may match nothing.
        row("a/*.jpg", "a/x.jpg", [:]),
        row("a/*.jpg", "a/.jpg", [:]),
        row("a/*.jpg", "a/b/x.jpg", nil),
        row("a/*.jpg", "a/x.png", nil),
        row("a/*.jpg", "a/x.jpg/y", nil),
        row("a/x*y*z", "a/xyz", [:]),
        row("a/x*y*z", "a/xAyBz", [:]),
        row("a/x*y*z", "a/xyzz", [:]),
        row("a/x*y*z", "a/xyyz", [:]),
        row("a/x*y*z", "a/xz", nil),
        row("a/x*y*z", "a/xzy", nil),
        row("a/x*y*z", "a/xy", nil),
        row("a/x*y*z", "a/xy/z", nil),
        row("a/x*y*z", "a/wxyz", nil),
        // Head and tail may not overlap.
        row("a/x*x", "a/x", nil),
        row("a/x*x", "a/xx", [:]),
        // `**` in the middle or at the start.
        row("a/**/b", "a/b", [:]),
        row("a/**/b", "a/x/y/b", [:]),
        row("a/**/b", "a/x/c", nil),
        row("**/thumbs/*", "thumbs/a", [:]),
        row("**/thumbs/*", "x/y/thumbs/a", [:]),
        row("**/thumbs/*", "x/thumbs/a/b", nil),
        // Several captures.
        row("{user}/albums/{album}/*.jpg", "u7/albums/summer/1.jpg", ["user": "u7", "album": "summer"]),
        row("{user}/albums/{album}/*.jpg", "u7/albums/summer/sub/1.jpg", nil),
        row("{user}/albums/{album}/*.jpg", "u7/album/summer/1.jpg", nil),
        // A capture after `**` takes the segment that makes the whole pattern match.
        row("{a}/**/{b}", "1/2/3", ["a": "1", "b": "3"]),
        row("{a}/**/{b}", "1/2", ["a": "1", "b": "2"]),
        row("{a}/**/{b}", "1", nil),
        // Bytes, not canonical equivalence: precomposed é (U+00E9) vs e + U+0301.
        row("caf\u{E9}/**", "caf\u{E9}/x", [:]),
        row("caf\u{E9}/**", "cafe\u{301}/x", nil),
        row("cafe\u{301}/**", "caf\u{E9}/x", nil),
        row("*\u{E9}", "e\u{301}", nil),
        row("x/*\u{E9}", "x/abc\u{E9}", [:]),
    ]

    @Test(arguments: table)
    func matches(_ row: Row) throws {
        let pattern = try KeyPattern(row.pattern)
        #expect(pattern.match(row.key) == row.captures)
    }

    /// Swift `String ==` would call these equal; the captured value must be the key's own bytes.
    @Test func capturesKeepTheKeyBytes() throws {
        let captures = try #require(try KeyPattern("{name}/**").match("e\u{301}/x"))
        let name = try #require(captures["name"])
        #expect(Array(name.utf8) == [0x65, 0xCC, 0x81])
    }

    @Test func keepsItsText() throws {
        #expect(try KeyPattern("selfies/{subject}/**").description == "selfies/{subject}/**")
    }

    static let invalid: [String] = [
        "",
        "{}",
        "{a}{b}",
        "a{b}",
        "{a}b",
        "a/{b",
        "{a}/{a}",
        "x/{a}/**/{a}",
        "a**",
        "**a",
        "a/**b/c",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(throws: PolicyConfigurationError.self) { try KeyPattern(text) }
    }

    static let valid: [String] = ["**", "**/**", "a", "a/b/c", "{a}", "{a}/{b}", "*", "*/x*y/**", "selfies/{subject}/**"]

    @Test(arguments: valid)
    func accepts(_ text: String) {
        #expect(throws: Never.self) { try KeyPattern(text) }
    }
}
