import Testing
import S3XML

@Suite("XMLDocumentParser: hostile and broken input")
struct XMLHostileInputTests {
    @Test("billion laughs is refused before any expansion")
    func billionLaughs() {
        var doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for level in 1...9 {
            let previous = level == 1 ? "lol" : "lol\(level - 1)"
            doc += " <!ENTITY lol\(level) \"" + String(repeating: "&\(previous);", count: 10) + "\">\n"
        }
        doc += "]>\n<lolz>&lol9;</lolz>"
        #expect(errorCode { try parse(doc) } == .forbiddenConstruct)
    }

    @Test("external entities, DTD pieces, PIs and undeclared entities are forbidden")
    func forbidden() {
        let documents = [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE foo SYSTEM \"http://example.invalid/x.dtd\"><foo/>",
            "<foo><!ENTITY x \"y\"></foo>",
            "<foo><!ELEMENT foo ANY></foo>",
            "<foo>&xxe;</foo>",
            "<foo a=\"&xxe;\"/>",
            "<?xml-stylesheet href=\"x\"?><foo/>",
            "<foo><?php echo 1; ?></foo>",
            "<foo/><?pi?>",
            "<foo><?xml version=\"1.0\"?></foo>",
            "<foo/>\n<?xml version=\"1.0\"?>",
            " <?xml version=\"1.0\"?><a/>",
        ]
        for document in documents {
            #expect(errorCode { try parse(document) } == .forbiddenConstruct, "\(document)")
        }
    }

    @Test("100,000-deep nesting stops at the depth limit")
    func deepNesting() {
        let doc = String(repeating: "<a>", count: 100_000) + String(repeating: "</a>", count: 100_000)
        #expect(errorCode { try parse(doc) } == .tooLarge)
        let unclosed = String(repeating: "<a>", count: 100_000)
        #expect(errorCode { try parse(unclosed) } == .tooLarge)
    }

    @Test("size, element count, name length and attribute count limits")
    func limits() {
        let big = "<a>" + String(repeating: "x", count: 4 * 1024 * 1024) + "</a>"
        #expect(errorCode { try parse(big) } == .tooLarge)
        #expect(errorCode { try parse("<a>xxxxxxxxxx</a>", limits: XMLLimits(maxBytes: 10)) } == .tooLarge)
        let many = "<r>" + String(repeating: "<i/>", count: 10) + "</r>"
        #expect(errorCode { try parse(many, limits: XMLLimits(maxElements: 10)) } == .tooLarge)
        let longName = String(repeating: "n", count: 257)
        #expect(errorCode { try parse("<\(longName)/>") } == .tooLarge)
        let attributes = (0..<33).map { "a\($0)=\"v\"" }.joined(separator: " ")
        #expect(errorCode { try parse("<r \(attributes)/>") } == .tooLarge)
    }

    @Test("malformed documents", arguments: [
        "", "   ", "text", "<", "<a", "<a>", "<a></b>", "<a><b></a></b>", "<a/><b/>", "<a/>trailing",
        "lead<a/>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a x=\"<\"/>", "<a x=\"1\"y=\"2\"/>", "<a>]]></a>",
        "<a><!-- a -- b --></a>", "<a><!-- open</a>", "<a><![CDATA[ open</a>", "<a>&#0;</a>",
        "<a>&#xD800;</a>", "<a>&#x110000;</a>", "<a>&#xZZ;</a>", "<a>&#;</a>", "<a>&#x123456789;</a>",
        "<a>&amp</a>", "<a>& b</a>", "<:a/>", "<a:/>", "<a:b:c/>", "<1a/>", "</a>", "<a></a",
        "<?xml version=\"2.0\"?><a/>", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
        "<?xml encoding=\"UTF-8\"?><a/>", "<?xml version=\"1.0\"",
        "<a><!WHAT></a>", "<![CDATA[x]]><a/>", "<a/>&amp;", "<?", "<?xml", "<a><?pi </a>",
    ])
    func malformed(document: String) {
        let code = errorCode { try parse(document) }
        #expect(code == .malformed, "\(document.debugDescription) gave \(String(describing: code))")
    }

    @Test("invalid UTF-8 and NUL bytes are malformed")
    func invalidBytes() {
        let cases: [[UInt8]] = [
            [0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E],             // <a>\xFF</a>
            [0x3C, 0x61, 0x3E, 0xC0, 0xAF, 0x3C, 0x2F, 0x61, 0x3E],       // overlong '/'
            [0x3C, 0x61, 0x3E, 0xED, 0xA0, 0x80, 0x3C, 0x2F, 0x61, 0x3E], // surrogate
            [0x3C, 0x61, 0x3E, 0xF4, 0x90, 0x80, 0x80, 0x3C, 0x2F, 0x61, 0x3E], // > U+10FFFF
            [0x3C, 0x61, 0x3E, 0xE6, 0x97, 0x3C, 0x2F, 0x61, 0x3E],       // truncated sequence
            [0x3C, 0x61, 0x3E, 0x00, 0x3C, 0x2F, 0x61, 0x3E],             // NUL
            Array("<abcdefgh>12345678".utf8) + [0x00] + Array("</abcdefgh>".utf8),
        ]
        for bytes in cases {
            #expect(errorCode { try XMLDocumentParser.parse(bytes) } == .malformed, "\(bytes)")
        }
    }

    @Test("every truncation of a valid document fails cleanly")
    func truncations() {
        let doc = Array("""
            <?xml version="1.0" encoding="UTF-8"?><!-- c --><Delete xmlns="urn:x"><Quiet>true</Quiet>\
            <Object><Key>a&amp;b&#x1F600;<![CDATA[c]]></Key><VersionId>v1</VersionId></Object></Delete>
            """.utf8)
        #expect(errorCode { try XMLDocumentParser.parse(doc) } == nil)
        for length in 0..<doc.count {
            let code = errorCode { try XMLDocumentParser.parse(doc[0..<length]) }
            #expect(code == .malformed, "prefix of \(length) bytes gave \(String(describing: code))")
        }
    }

    @Test("random mutations never crash", arguments: [1, 2, 3])
    func mutations(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let alphabet = Array("<>/!?&;#x=\"' -[]CDATAa:b\u{1}é".utf8)
        let base = Array("<a x=\"1\"><b>t&amp;x</b><!-- c --><c><![CDATA[d]]></c></a>".utf8)
        for _ in 0..<3000 {
            var doc = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index = Int.random(in: 0..<doc.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: doc[index] = alphabet.randomElement(using: &rng)!
                case 1: doc.insert(alphabet.randomElement(using: &rng)!, at: index)
                default: doc.remove(at: index)
                }
            }
            _ = errorCode { try XMLDocumentParser.parse(doc) }
        }
    }
}
