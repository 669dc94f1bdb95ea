import Testing
import S3XML

/// Parses a string document.
func parse(_ text: String, limits: XMLLimits = .init()) throws(XMLParseError) -> XMLElementNode {
    try XMLDocumentParser.parse(Array(text.utf8), limits: limits)
}

/// The ``XMLParseError`` code `body` throws, or `nil` if it does not throw.
/// (Closures do not infer typed throws, so this takes an untyped one and checks the type.)
func errorCode<T>(_ body: () throws -> T) -> XMLParseError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as XMLParseError {
        return error.code
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// A small deterministic generator (SplitMix64) for the fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Keys that stress escaping: markup characters, unicode, every C0 control but NUL,
/// line ends, leading/trailing spaces, U+FFFE/U+FFFF, DEL and C1.
let awkwardKeys: [String] = [
    "plain/key.txt",
    "a&b<c>d\"e'f",
    "&amp; already escaped &lt;",
    "]]> and <![CDATA[ x ]]>",
    "ünïcødé/日本語/emoji 😀/ﬁ",
    String((1..<32).map { Character(Unicode.Scalar(UInt8($0))) }),
    "line1\r\nline2\rline3\n\ttab",
    "  leading and trailing spaces  ",
    "nonchars \u{FFFE}\u{FFFF} and \u{FFFD}",
    "del \u{7F} c1 \u{85}\u{9F}",
    "+ % ? # = ; : @ $ , ~ ! * ( ) [ ] { } | \\ ^ `",
    "",
]
