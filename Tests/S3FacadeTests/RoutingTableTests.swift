import Testing

@testable import S3Facade

/// `METHOD /path?query → operation`, in path and virtual-host style.
struct RoutingTableTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var method: String
        var target: String
        var host: String? = nil
        var copySource: String? = nil
        var expected: S3Operation
        var testDescription: String { "\(method) \(host ?? "")\(target)" }
    }

    static let pathStyleRows: [Row] = [
        Row(method: "GET", target: "/", expected: .listBuckets),
        Row(method: "PUT", target: "/photos", expected: .createBucket(bucket: "photos")),
        Row(method: "PUT", target: "/photos/", expected: .createBucket(bucket: "photos")),
        Row(method: "HEAD", target: "/photos", expected: .headBucket(bucket: "photos")),
        Row(method: "DELETE", target: "/photos", expected: .deleteBucket(bucket: "photos")),
        Row(method: "GET", target: "/photos?location", expected: .getBucketLocation(bucket: "photos")),
        Row(method: "GET", target: "/photos?versioning", expected: .getBucketVersioning(bucket: "photos")),
        Row(method: "GET", target: "/photos?uploads", expected: .listMultipartUploads(bucket: "photos")),
        Row(method: "GET", target: "/photos?list-type=2&prefix=a", expected: .listObjectsV2(bucket: "photos")),
        Row(method: "GET", target: "/photos?prefix=a&marker=b", expected: .listObjectsV1(bucket: "photos")),
        Row(method: "POST", target: "/photos?delete", expected: .deleteObjects(bucket: "photos")),
        Row(method: "PUT", target: "/photos/a/b.jpg", expected: .putObject(bucket: "photos", key: "a/b.jpg")),
        Row(method: "PUT", target: "/photos/a%20b%2Bc+d", expected: .putObject(bucket: "photos", key: "a b+c+d")),
        Row(method: "PUT", target: "/photos/..%2F..%2Fetc%2Fpasswd", expected: .putObject(bucket: "photos", key: "../../etc/passwd")),
        Row(method: "GET", target: "/photos//double//slash", expected: .getObject(bucket: "photos", key: "/double//slash")),
        Row(method: "GET", target: "/photos/%E6%97%A5%E6%9C%AC/%3F%23%25", expected: .getObject(bucket: "photos", key: "日本/?#%")),
        Row(method: "HEAD", target: "/photos/k", expected: .headObject(bucket: "photos", key: "k")),
        Row(method: "DELETE", target: "/photos/k", expected: .deleteObject(bucket: "photos", key: "k")),
        Row(method: "PUT", target: "/photos/k", copySource: "/src/a%20b", expected: .copyObject(bucket: "photos", key: "k", source: CopySource(bucket: "src", key: "a b"))),
        Row(method: "PUT", target: "/photos/k", copySource: "src/x/y?versionId=null", expected: .copyObject(bucket: "photos", key: "k", source: CopySource(bucket: "src", key: "x/y"))),
        Row(method: "POST", target: "/photos/k?uploads", expected: .createMultipartUpload(bucket: "photos", key: "k")),
        Row(method: "PUT", target: "/photos/k?partNumber=3&uploadId=U1", expected: .uploadPart(bucket: "photos", key: "k", uploadID: "U1", partNumber: 3)),
        Row(method: "PUT", target: "/photos/k?partNumber=2&uploadId=U1", copySource: "/src/s", expected: .uploadPartCopy(bucket: "photos", key: "k", uploadID: "U1", partNumber: 2, source: CopySource(bucket: "src", key: "s"))),
        Row(method: "POST", target: "/photos/k?uploadId=U1", expected: .completeMultipartUpload(bucket: "photos", key: "k", uploadID: "U1")),
        Row(method: "DELETE", target: "/photos/k?uploadId=U1", expected: .abortMultipartUpload(bucket: "photos", key: "k", uploadID: "U1")),
        Row(method: "GET", target: "/photos/k?uploadId=U1&max-parts=2", expected: .listParts(bucket: "photos", key: "k", uploadID: "U1")),
        Row(method: "GET", target: "/photos/k?response-content-type=text%2Fplain", expected: .getObject(bucket: "photos", key: "k")),
        Row(method: "GET", target: "/photos/k?partNumber=1", expected: .getObject(bucket: "photos", key: "k")),
    ]

    static let virtualHostRows: [Row] = [
        Row(method: "GET", target: "/", host: "photos.s3.local:9000", expected: .listObjectsV1(bucket: "photos")),
        Row(method: "GET", target: "/?list-type=2", host: "photos.s3.local", expected: .listObjectsV2(bucket: "photos")),
        Row(method: "PUT", target: "/", host: "photos.s3.local", expected: .createBucket(bucket: "photos")),
        Row(method: "PUT", target: "/a/b.jpg", host: "photos.s3.local", expected: .putObject(bucket: "photos", key: "a/b.jpg")),
        Row(method: "GET", target: "/photos/k", host: "s3.local:9000", expected: .getObject(bucket: "photos", key: "k")),
        Row(method: "GET", target: "/", host: "s3.local", expected: .listBuckets),
        Row(method: "GET", target: "/b/k", host: "127.0.0.1:9000", expected: .getObject(bucket: "b", key: "k")),
    ]

    static func line(_ row: Row) throws -> S3RequestLine {
        let parts = row.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return S3RequestLine(
            method: row.method, rawPath: String(parts[0]),
            query: try S3RequestLine.parseQuery(parts.count > 1 ? parts[1] : ""),
            host: row.host, copySource: row.copySource)
    }

    @Test(arguments: pathStyleRows)
    func pathStyle(_ row: Row) throws {
        #expect(try S3Operation.parse(Self.line(row)) == row.expected)
    }

    @Test(arguments: virtualHostRows)
    func virtualHostStyle(_ row: Row) throws {
        #expect(try S3Operation.parse(Self.line(row), domain: "s3.local") == row.expected)
    }

    @Test func withoutDomainTheHostIsIgnored() throws {
        let row = Row(method: "GET", target: "/a/b", host: "photos.s3.local", expected: .getObject(bucket: "a", key: "b"))
        #expect(try S3Operation.parse(Self.line(row)) == row.expected)
    }

    @Test(arguments: [
        ("POST", "/", S3Error.Code.methodNotAllowed),
        ("PATCH", "/b/k", .methodNotAllowed),
        ("GET", "/b?acl", .notImplemented),
        ("GET", "/b/k?tagging", .notImplemented),
        ("PUT", "/b/k?partNumber=0&uploadId=U", .invalidArgument),
        ("PUT", "/b/k?partNumber=10001&uploadId=U", .invalidArgument),
        ("PUT", "/b/k?partNumber=x&uploadId=U", .invalidArgument),
        ("GET", "/b?list-type=3", .invalidArgument),
        ("GET", "/b/%ZZ", .invalidURI),
        ("GET", "/b/%C3%28", .invalidURI),
        ("POST", "/b/k", .methodNotAllowed),
    ])
    func rejects(_ method: String, _ target: String, _ code: S3Error.Code) throws {
        let line = try Self.line(Row(method: method, target: target, expected: .listBuckets))
        #expect(throws: S3Error.self) { try S3Operation.parse(line) }
        do {
            _ = try S3Operation.parse(line)
        } catch {
            #expect(error.code == code)
        }
    }

    @Test func keyLengthLimitIsInBytes() throws {
        let fits = String(repeating: "é", count: 512)  // 1024 bytes
        let tooLong = fits + "a"
        let ok = try Self.line(Row(method: "PUT", target: "/b/" + fits.addingPercentEncodingForTest(), expected: .listBuckets))
        #expect(try S3Operation.parse(ok) == .putObject(bucket: "b", key: fits))
        let bad = try Self.line(Row(method: "PUT", target: "/b/" + tooLong.addingPercentEncodingForTest(), expected: .listBuckets))
        #expect(throws: S3Error(.keyTooLong, "Your key is too long.")) { try S3Operation.parse(bad) }
    }

    @Test func queryPlusMeansSpaceButPathPlusIsLiteral() throws {
        let line = try Self.line(Row(method: "GET", target: "/b/a+b?prefix=x+y%2Bz", expected: .listBuckets))
        #expect(line.parameter("prefix") == "x y+z")
        #expect(try S3Operation.parse(line) == .getObject(bucket: "b", key: "a+b"))
    }
}

extension String {
    func addingPercentEncodingForTest() -> String {
        utf8.map { byte in
            (byte.isASCIIAlnum || byte == UInt8(ascii: "/")) ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }.joined()
    }
}

extension UInt8 {
    var isASCIIAlnum: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self)
    }
}

import Foundation

extension RoutingTableTests {
    @Test
    func presignedAuthParametersAreCheckedButNotRouted() throws {
        let query = try S3RequestLine.parseQuery(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Signature=ab&uploadId=u%20v&X-Amz-Meta-Thing=1&x-amz-date=lower")
        #expect(query.map { [$0.name, $0.value] } == [["uploadId", "u v"], ["X-Amz-Meta-Thing", "1"], ["x-amz-date", "lower"]])
        #expect(throws: S3Error.self) { try S3RequestLine.parseQuery("X-Amz-Signature=%zz") }
    }

    @Test
    func requestIDsAreSixteenUppercaseHexDigits() {
        let ids = (0..<64).map { _ in RequestID.make() }
        for id in ids {
            #expect(id.utf8.count == 16)
            #expect(id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) })
        }
        #expect(Set(ids).count == ids.count)
    }

    @Test
    func requestIDsMadeOnSeveralThreadsAtOnceAreAllDistinct() async {
        let batches = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { (0..<25_000).map { _ in RequestID.make() } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let all = batches.flatMap { $0 }
        #expect(all.count == 100_000)
        #expect(Set(all).count == all.count)
    }
}
