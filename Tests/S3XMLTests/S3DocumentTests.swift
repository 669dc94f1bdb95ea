import Testing
import S3XML

@Suite("Typed S3 request documents")
struct S3DocumentTests {
    @Test("CompleteMultipartUpload as boto3 sends it, with checksums")
    func completeMultipartUpload() throws {
        let body = """
            <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Part><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><PartNumber>1</PartNumber>\
            <ChecksumCRC32>DUoRhQ==</ChecksumCRC32></Part>
              <Part>
                <PartNumber> 2 </PartNumber>
                <ETag>&quot;92eb5ffee6ae2fec3ad71c777531578f&quot;</ETag>
                <ChecksumCRC64NVME>jSnVw/bqjr4=</ChecksumCRC64NVME>
                <Unknown>ignored</Unknown>
              </Part>
            </CompleteMultipartUpload>
            """
        let document = try CompleteMultipartUploadDocument(parsing: Array(body.utf8))
        #expect(document.parts == [
            CompletedPart(partNumber: 1, etag: "\"0cc175b9c0f1b6a831c399e269772661\"", checksumCRC32: "DUoRhQ=="),
            CompletedPart(partNumber: 2, etag: "\"92eb5ffee6ae2fec3ad71c777531578f\"", checksumCRC64NVME: "jSnVw/bqjr4="),
        ])
        #expect(document.parts[0].etagWithoutQuotes == "0cc175b9c0f1b6a831c399e269772661")
        #expect(CompletedPart(partNumber: 1, etag: "abc").etagWithoutQuotes == "abc")
        #expect(document.partNumbersAreStrictlyAscending)
        let unordered = CompleteMultipartUploadDocument(parts: [
            CompletedPart(partNumber: 2, etag: "a"), CompletedPart(partNumber: 2, etag: "b"),
        ])
        #expect(!unordered.partNumbersAreStrictlyAscending)
    }

    @Test("CompleteMultipartUpload schema errors", arguments: [
        ("<CompleteMultipartUpload/>", XMLParseError.Code.malformed),
        ("<Delete><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Delete>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>1 2</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>9999999999</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber></PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber><b>1</b></PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", .malformed),
        ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>", .malformed),
    ])
    func completeMultipartUploadErrors(body: String, code: XMLParseError.Code) {
        #expect(errorCode { try CompleteMultipartUploadDocument(parsing: Array(body.utf8)) } == code, "\(body)")
    }

    static func completeBody(parts: Int) -> [UInt8] {
        var xml = XMLWriter()
        xml.open("CompleteMultipartUpload", attributes: [("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")])
        for number in 1...parts {
            xml.element("Part") { xml in
                xml.element("ETag", "\"0cc175b9c0f1b6a831c399e269772661\"")
                xml.element("PartNumber", number)
                xml.element("ChecksumSHA256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
            }
        }
        xml.close("CompleteMultipartUpload")
        return xml.bytes
    }

    @Test("10,000 parts parse; 10,001 are too many")
    func tenThousandParts() throws {
        let body = Self.completeBody(parts: 10_000)
        #expect(body.count < 4 * 1024 * 1024)
        let document = try CompleteMultipartUploadDocument(parsing: body)
        #expect(document.parts.count == 10_000)
        #expect(document.parts.last?.partNumber == 10_000)
        #expect(document.partNumbersAreStrictlyAscending)
        let tooMany = Self.completeBody(parts: 10_001)
        #expect(errorCode { try CompleteMultipartUploadDocument(parsing: tooMany) } == .tooLarge)
    }

    @Test("DeleteObjects with quiet, versions and awkward keys")
    func deleteObjects() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Quiet> True </Quiet>
              <Object><Key> spaced key </Key></Object>
              <Object><Key>a&amp;b&lt;c&gt;&quot;&apos;&#x1;</Key><VersionId> null </VersionId></Object>
              <Object><Key><![CDATA[cdata <key>]]></Key></Object>
              <Object><Key></Key></Object>
            </Delete>
            """
        let document = try DeleteObjectsDocument(parsing: Array(body.utf8))
        #expect(document.quiet)
        #expect(document.objects == [
            ObjectToDelete(key: " spaced key "),
            ObjectToDelete(key: "a&b<c>\"'\u{1}", versionId: "null"),
            ObjectToDelete(key: "cdata <key>"),
            ObjectToDelete(key: ""),
        ])
        let loud = try DeleteObjectsDocument(parsing: Array("<Delete><Object><Key>k</Key></Object></Delete>".utf8))
        #expect(!loud.quiet)
    }

    static func deleteBody(objects: Int) -> [UInt8] {
        var xml = XMLWriter()
        xml.open("Delete")
        for index in 0..<objects {
            xml.element("Object") { xml in xml.element("Key", "key-\(index)") }
        }
        xml.close("Delete")
        return xml.bytes
    }

    @Test("1000 objects are accepted; 1001 are refused")
    func deleteLimit() throws {
        #expect(try DeleteObjectsDocument(parsing: Self.deleteBody(objects: 1000)).objects.count == 1000)
        #expect(errorCode { try DeleteObjectsDocument(parsing: Self.deleteBody(objects: 1001)) } == .tooLarge)
    }

    @Test("DeleteObjects schema errors", arguments: [
        "<Delete></Delete>",
        "<Delete><Quiet>true</Quiet></Delete>",
        "<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>",
        "<Delete><Quiet>true</Quiet><Quiet>true</Quiet><Object><Key>k</Key></Object></Delete>",
        "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key><x/></Key></Object></Delete>",
        "<Remove><Object><Key>k</Key></Object></Remove>",
    ])
    func deleteErrors(body: String) {
        #expect(errorCode { try DeleteObjectsDocument(parsing: Array(body.utf8)) } == .malformed, "\(body)")
    }

    @Test("CreateBucketConfiguration")
    func createBucketConfiguration() throws {
        func parseConfiguration(_ text: String) throws(XMLParseError) -> CreateBucketConfigurationDocument {
            try CreateBucketConfigurationDocument(parsing: Array(text.utf8))
        }
        #expect(try parseConfiguration("").locationConstraint == nil)
        #expect(try parseConfiguration(" \r\n ").locationConstraint == nil)
        #expect(try parseConfiguration("""
            <CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <LocationConstraint>eu-west-1</LocationConstraint>
            </CreateBucketConfiguration>
            """).locationConstraint == "eu-west-1")
        #expect(try parseConfiguration("<CreateBucketConfiguration/>").locationConstraint == nil)
        #expect(try parseConfiguration(
            "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>").locationConstraint == nil)
        #expect(errorCode { try parseConfiguration("<Configuration/>") } == .malformed)
        #expect(errorCode { try parseConfiguration("<CreateBucketConfiguration>") } == .malformed)
        #expect(errorCode { try parseConfiguration(
            "<!DOCTYPE x><CreateBucketConfiguration/>") } == .forbiddenConstruct)
        #expect(errorCode { try parseConfiguration("""
            <CreateBucketConfiguration><LocationConstraint>a</LocationConstraint>\
            <LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>
            """) } == .malformed)
    }
}
