import Testing
import S3XML

@Suite("XMLDocumentParser: well-formed input")
struct XMLParserTests {
    @Test("elements, text, attributes, prefixes and namespace declarations")
    func basics() throws {
        let root = try parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <s3:Root xmlns="http://s3.amazonaws.com/doc/2006-03-01/" xmlns:s3="urn:x" s3:kind='k' plain="p">
              <s3:Item>one</s3:Item>
              <Item>two</Item>
              <Empty/>
              <Empty2></Empty2>
            </s3:Root>
            """)
        #expect(root.name == "Root")
        #expect(root.attributes == [XMLAttribute(name: "kind", value: "k"), XMLAttribute(name: "plain", value: "p")])
        #expect(root.attribute("s3:kind") == "k")
        #expect(root.children.map(\.name) == ["Item", "Item", "Empty", "Empty2"])
        #expect(root.children(named: "Item").map(\.text) == ["one", "two"])
        #expect(root.child("x:Item")?.text == "one")
        #expect(root.child("Empty")?.text == "")
        #expect(root.child("Missing") == nil)
        #expect(root.trimmedText == "")
    }

    @Test("entities, character references, CDATA and comments")
    func textDecoding() throws {
        let root = try parse(
            "<K>&lt;&gt;&amp;&quot;&apos;|&#65;&#x42;&#x1F600;&#x1;|<![CDATA[<raw> & ]]]>|<!-- c -->x</K>")
        #expect(root.text == "<>&\"'|AB😀\u{1}|<raw> & ]|x")
    }

    @Test("text is kept exactly: whitespace, CR, raw control characters")
    func exactText() throws {
        let root = try parse("<K>  a\r\n\tb\u{1}\u{7F}  </K>")
        #expect(root.text == "  a\r\n\tb\u{1}\u{7F}  ")
        #expect(root.trimmedText == "a\r\n\tb\u{1}\u{7F}")
    }

    @Test("what boto3 (ElementTree) sends for an awkward key parses to that key")
    func boto3Bytes() throws {
        var bytes = Array(#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b&lt;c&gt;"d'e"#.utf8)
        bytes += [0x01, 0x0D, 0x0A, 0x09]
        bytes += Array("&#252;</Key></Object></Delete>".utf8)
        let document = try DeleteObjectsDocument(parsing: bytes)
        #expect(document.objects.first?.key == "a&b<c>\"d'e\u{1}\r\n\tü")
    }

    @Test("declaration variants, BOM, comments around the root")
    func prolog() throws {
        #expect(try parse("<?xml version='1.0'?><A/>").name == "A")
        #expect(try parse("<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\" ?>\n<A/>").name == "A")
        #expect(try parse("\u{FEFF}<?xml version=\"1.0\"?><A/>").name == "A")
        #expect(try parse("<!-- before --> \n<A/>\n<!-- after -->\n").name == "A")
        #expect(try parse("<A\n  x = \"1\"\n/>").attribute("x") == "1")
        #expect(try parse("<A></A >").name == "A")
    }

    @Test("attribute values: references decoded, literal whitespace normalized")
    func attributeValues() throws {
        let root = try parse("<A v=\"a&amp;b&#x9;c\td\ne\" w='\"'/>")
        #expect(root.attribute("v") == "a&b\tc d e")
        #expect(root.attribute("w") == "\"")
    }

    @Test("non-contiguous input collections are accepted")
    func nonContiguous() throws {
        let bytes = "<A>x</A>".utf8.lazy.map { $0 }
        #expect(try XMLDocumentParser.parse(Array(bytes).reversed().reversed()).text == "x")
    }

    @Test("elements at exactly the depth and count limits are accepted")
    func atLimits() throws {
        let deep = String(repeating: "<a>", count: 32) + String(repeating: "</a>", count: 32)
        #expect(try parse(deep).name == "a")
        let wide = "<r>" + String(repeating: "<i/>", count: 9) + "</r>"
        #expect(try parse(wide, limits: XMLLimits(maxElements: 10)).children.count == 9)
    }
}
