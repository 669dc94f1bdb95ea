import Testing
import S3XML

@Suite("XMLWriter and XMLEscaping")
struct XMLWriterTests {
    @Test("document shape, declaration, attributes, typed values, closure form")
    func documentShape() {
        var xml = XMLWriter()
        xml.open("ListBucketResult", attributes: [("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")])
        xml.element("Name", "bucket")
        xml.element("Prefix", "")
        xml.element("MaxKeys", 1000)
        xml.element("IsTruncated", false)
        xml.optionalElement("Marker", nil)
        xml.element("Contents") { xml in
            xml.element("Key", "a&b")
            xml.element("Size", Int64(42))
        }
        xml.emptyElement("Owner", attributes: [("id", "x\"y")])
        xml.close("ListBucketResult")
        #expect(xml.openElementNames.isEmpty)
        #expect(xml.string == """
            <?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>\
            <Contents><Key>a&amp;b</Key><Size>42</Size></Contents><Owner id="x&quot;y"/></ListBucketResult>
            """)
        #expect(xml.bytes == Array(xml.string.utf8))
    }

    @Test("close() without a name closes the innermost element")
    func closeInnermost() {
        var xml = XMLWriter(declaration: false)
        xml.open("A")
        xml.open("B")
        #expect(xml.openElementNames == ["A", "B"])
        xml.close()
        xml.close()
        xml.close()  // nothing open: no-op
        #expect(xml.string == "<A><B></B></A>")
    }

    @Test("escaping of markup characters, controls and non-characters")
    func escaping() {
        #expect(XMLEscaping.escaped("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f")
        #expect(XMLEscaping.escaped("\u{1}\u{8}\u{1F}") == "&#x1;&#x8;&#x1F;")
        #expect(XMLEscaping.escaped("\t\n\r") == "&#x9;&#xA;&#xD;")
        #expect(XMLEscaping.escaped("\u{0}") == "&#x0;")
        #expect(XMLEscaping.escaped("x\u{FFFE}y\u{FFFF}z\u{FFFD}") == "x&#xFFFE;y&#xFFFF;z\u{FFFD}")
        #expect(XMLEscaping.escaped("ﬁ日本😀\u{7F}\u{85}") == "ﬁ日本😀\u{7F}\u{85}")
        #expect(XMLEscaping.escaped("") == "")
        #expect(XMLEscaping.escaped("no escapes at all") == "no escapes at all")
    }

    @Test("awkward keys survive writer → parser exactly", arguments: awkwardKeys)
    func roundTrip(key: String) throws {
        var xml = XMLWriter()
        xml.open("Delete")
        xml.element("Object") { xml in
            xml.element("Key", key)
        }
        xml.open("Tagged", attributes: [("value", key)])
        xml.close("Tagged")
        xml.close("Delete")
        let root = try XMLDocumentParser.parse(xml.bytes)
        #expect(root.child("Object")?.child("Key")?.text == key)
        #expect(root.child("Tagged")?.attribute("value") == key)
        let document = try DeleteObjectsDocument(parsing: xml.bytes)
        #expect(document.objects == [ObjectToDelete(key: key)])
    }

    @Test("a 1000-key listing round-trips")
    func bigListing() throws {
        var xml = XMLWriter(declaration: true, reservingCapacity: 200_000)
        xml.open("ListBucketResult")
        for index in 0..<1000 {
            xml.element("Contents") { xml in
                xml.element("Key", "photos/2024/\(index) & <\(index)>.jpg")
                xml.element("ETag", "\"d41d8cd98f00b204e9800998ecf8427e\"")
                xml.element("Size", index)
            }
        }
        xml.close("ListBucketResult")
        let root = try XMLDocumentParser.parse(xml.bytes)
        let contents = root.children(named: "Contents")
        #expect(contents.count == 1000)
        #expect(contents[999].child("Key")?.text == "photos/2024/999 & <999>.jpg")
        #expect(contents[5].child("ETag")?.text == "\"d41d8cd98f00b204e9800998ecf8427e\"")
    }
}
