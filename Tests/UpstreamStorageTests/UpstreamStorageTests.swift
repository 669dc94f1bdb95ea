import Foundation
import NIOCore
import NIOHTTP1
import SigV4
import Storage
import Testing

@testable import UpstreamStorage

/// The parts of the upstream store that decide without the network. Its behaviour against a real
/// S3 server is checked by the conformance suite (CONFORMANCE_STORAGE=s3, conformance/test_upstream.py).
@Suite("UpstreamStorage")
struct UpstreamStorageTests {
    // MARK: listing markers

    @Test("start-after skips a whole rolled-up group", arguments: [
        // (prefix, delimiter, marker, expected upstream start-after)
        ("", "/", "a/", "a/\u{10FFFF}"),
        ("", "/", "a/b/c", "a/\u{10FFFF}"),
        ("p/", "/", "p/x/", "p/x/\u{10FFFF}"),
        ("", "/", "plain", "plain"),
        ("p/", "/", "q/x", "q/x"),
        ("", "", "a/", "a/"),
        ("", "--", "k--v", "k--\u{10FFFF}"),
    ])
    func startAfter(prefix: String, delimiter: String, marker: String, expected: String) {
        let query = ListQuery(prefix: prefix, delimiter: delimiter.isEmpty ? nil : delimiter, startAfter: marker)
        #expect(UpstreamObjectStore.upstreamStartAfter(query) == expected)
    }

    @Test func noMarkerNoStartAfter() {
        #expect(UpstreamObjectStore.upstreamStartAfter(ListQuery(prefix: "a", delimiter: "/")) == nil)
        #expect(UpstreamObjectStore.upstreamStartAfter(ListQuery(startAfter: "")) == nil)
    }

    // MARK: how an upload goes upstream

    @Test func uploadPlans() {
        let checksum = StoredChecksum(algorithm: "CRC32", value: "AAAAAA==")
        func plan(_ facts: UploadFacts, tls: Bool) -> String {
            switch UploadPlan.choose(facts, tls: tls, memoryLimit: 4) {
            case .stage: "stage"
            case .stream(_, let sha): sha == nil ? "unsigned" : "sha256"
            }
        }
        #expect(plan(UploadFacts(length: 10), tls: true) == "unsigned")
        #expect(plan(UploadFacts(length: 10), tls: false) == "stage")
        #expect(plan(UploadFacts(length: 10, sha256Hex: "ab"), tls: false) == "sha256")
        #expect(plan(UploadFacts(), tls: true) == "stage")
        #expect(plan(UploadFacts(length: 4, sha256Hex: "ab"), tls: true) == "stage")
        // A checksum only known at the end (a trailer) must be known before the headers go.
        #expect(plan(UploadFacts(length: 10, checksumAlgorithm: "CRC32"), tls: true) == "stage")
        #expect(plan(UploadFacts(length: 10, checksum: checksum), tls: true) == "unsigned")
        #expect(plan(UploadFacts(length: 1, sha256Hex: "ab"), tls: true) == "stage")
    }

    // MARK: held-back streaming

    @Test func lastChunkWaitsForVerification() async throws {
        let verified = Flag()
        let body = UploadBody(chunks: ByteStream.buffers([ByteBuffer(string: "ab"), ByteBuffer(string: "cd"), ByteBuffer(string: "ef")])) {
            verified.set()
            return UploadDigest(md5Hex: "m", checksum: nil)
        }
        let held = HeldBackUpload(body)
        var iterator = held.stream.makeAsyncIterator()
        #expect(try await iterator.next().map { String(buffer: $0) } == "ab")
        #expect(!verified.value)
        #expect(try await iterator.next().map { String(buffer: $0) } == "cd")
        #expect(!verified.value)
        #expect(try await iterator.next().map { String(buffer: $0) } == "e")
        #expect(!verified.value)
        #expect(try await iterator.next().map { String(buffer: $0) } == "f")
        #expect(verified.value)
        #expect(held.verifiedDigest?.md5Hex == "m")
        #expect(try await iterator.next() == nil)
    }

    @Test func failedVerificationNeverReleasesTheLastByte() async throws {
        struct BadDigest: Error {}
        let body = UploadBody(chunks: ByteStream.buffers([ByteBuffer(string: "ab"), ByteBuffer(string: "cd")])) { throw BadDigest() }
        let held = HeldBackUpload(body)
        var iterator = held.stream.makeAsyncIterator()
        #expect(try await iterator.next().map { String(buffer: $0) } == "ab")
        #expect(try await iterator.next().map { String(buffer: $0) } == "c")
        await #expect(throws: UpstreamBodyError.self) { _ = try await iterator.next() }
        #expect(held.verifiedDigest == nil)
    }

    // MARK: staging

    @Test(arguments: [16, 1 << 20])
    func stagingHashesAndVerifies(memoryLimit: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("upstream-stage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = Array("hello upstream staging".utf8)
        let body = UploadBody(chunks: ByteStream.buffers([ByteBuffer(bytes: bytes[..<5]), ByteBuffer(bytes: bytes[5...])])) {
            UploadDigest(md5Hex: "m", checksum: nil)
        }
        let staged = try await StagedUpload.stage(body, directory: directory, memoryLimit: memoryLimit)
        #expect(staged.length == Int64(bytes.count))
        let sha = UpstreamClient.sha256Hex(bytes)
        switch staged.payload {
        case .bytes(let held):
            #expect(memoryLimit > bytes.count)
            #expect(held == bytes)
        case .file(let path, let length, let fileSHA):
            #expect(memoryLimit < bytes.count)
            #expect(length == Int64(bytes.count))
            #expect(fileSHA == sha)
            #expect(FileManager.default.contents(atPath: path).map(Array.init) == bytes)
        default:
            Issue.record("unexpected payload")
        }
        staged.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func stagingRemovesItsFileWhenVerificationFails() async throws {
        struct BadDigest: Error {}
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("upstream-stage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let body = UploadBody(chunks: ByteStream.buffers([ByteBuffer(repeating: 7, count: 100)])) { throw BadDigest() }
        await #expect(throws: BadDigest.self) { _ = try await StagedUpload.stage(body, directory: directory, memoryLimit: 10) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    // MARK: headers

    @Test func attributesRoundTripThroughHeaders() {
        var attributes = ObjectAttributes(contentType: "image/jpeg", cacheControl: "no-cache", contentDisposition: "inline",
                                          contentEncoding: "gzip", contentLanguage: "de", expires: "Thu, 01 Dec 2030 16:00:00 GMT")
        attributes.userMetadata = ["camera": "x100", "mediagate-origin": "derived forged"]
        let checksum = StoredChecksum(algorithm: "CRC32C", value: "yZRlqg==")
        let sent = UpstreamMapping.headers(attributes: attributes, origin: .derived(sourceETag: "abc"), checksum: checksum)
        // A client's metadata under the reserved prefix is dropped; the gateway's own is sent.
        #expect(sent.filter { $0.name.lowercased() == "x-amz-meta-mediagate-origin" }.map(\.value) == ["derived abc"])
        var headers = HTTPHeaders(sent.map { ($0.name, $0.value) })
        headers.add(name: "ETag", value: "\"0123-2\"")
        headers.add(name: "Content-Length", value: "42")
        headers.add(name: "Last-Modified", value: "Sun, 22 Nov 2026 10:00:00 GMT")
        let info = UpstreamMapping.info(bucket: "b", key: "k", headers: headers)
        var expected = attributes
        expected.userMetadata = ["camera": "x100"]
        #expect(info.attributes == expected)
        #expect(info.origin == .derived(sourceETag: "abc"))
        #expect(info.checksum == checksum)
        #expect(info.etag == "0123-2")
        #expect(info.isMultipart)
        #expect(info.size == 42)
        #expect(info.lastModified == Date(timeIntervalSince1970: 1_795_341_600))
    }

    @Test func sizeOfARangedAnswerIsTheTotal() {
        let headers = HTTPHeaders([("ETag", "\"e\""), ("Content-Length", "10"), ("Content-Range", "bytes 0-9/1000")])
        #expect(UpstreamMapping.info(bucket: "b", key: "k", headers: headers).size == 1000)
    }

    @Test func preconditions() {
        #expect(UpstreamMapping.preconditionHeaders(.none).isEmpty)
        #expect(UpstreamMapping.preconditionHeaders(.ifAbsent).map(\.value) == ["*"])
        #expect(UpstreamMapping.preconditionHeaders(.ifMatch(etag: "e1")).map(\.name) == ["If-Match"])
        #expect(UpstreamMapping.preconditionHeaders(.ifMatch(etag: "e1")).map(\.value) == ["\"e1\""])
    }

    // MARK: errors and XML

    @Test func upstreamErrorCodes() {
        #expect(UpstreamClient.errorCode(status: 404, code: "NoSuchBucket", notFound: .noSuchKey) == .noSuchBucket)
        #expect(UpstreamClient.errorCode(status: 404, code: "", notFound: .noSuchUpload) == .noSuchUpload)
        #expect(UpstreamClient.errorCode(status: 412, code: "", notFound: .noSuchKey) == .preconditionFailed)
        #expect(UpstreamClient.errorCode(status: 409, code: "BucketAlreadyOwnedByYou", notFound: .noSuchKey) == .bucketAlreadyExists)
        #expect(UpstreamClient.errorCode(status: 400, code: "EntityTooSmall", notFound: .noSuchKey) == .entityTooSmall)
        #expect(UpstreamClient.errorCode(status: 400, code: "InvalidArgument", notFound: .noSuchKey) == .upstreamRefused)
        #expect(UpstreamClient.errorCode(status: 301, code: "PermanentRedirect", notFound: .noSuchKey) == .internalError)
    }

    @Test func errorInsideASuccessfulCompletion() {
        let body = Array("<?xml version=\"1.0\"?><Error><Code>InvalidPart</Code><Message>no</Message></Error>".utf8)
        #expect(throws: StorageError(.invalidPart, "upstream InvalidPart no")) {
            _ = try UpstreamXML.parse(body, root: "CompleteMultipartUploadResult")
        }
        let busy = Array("<Error><Code>InternalError</Code></Error>".utf8)
        #expect(throws: StorageError.self) { _ = try UpstreamXML.parse(busy, root: "CompleteMultipartUploadResult") }
    }

    @Test func listingDocument() throws {
        let body = Array("""
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated>
            <Contents><Key>a &amp; b</Key><LastModified>2026-11-22T10:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>5</Size></Contents>
            <CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>
            """.utf8)
        let root = try UpstreamXML.parse(body, root: "ListBucketResult")
        let objects = UpstreamXML.objects(root, bucket: "b")
        #expect(objects.map(\.key) == ["a & b"])
        #expect(objects.first?.etag == "e1")
        #expect(objects.first?.size == 5)
        #expect(UpstreamXML.prefixes(root) == ["p/"])
        #expect(UpstreamXML.bool(root, "IsTruncated"))
    }

    @Test func completionDocument() {
        let xml = String(decoding: UpstreamXML.completion([CompletedPart(number: 1, etag: "a"), CompletedPart(number: 2, etag: "b")]), as: UTF8.self)
        #expect(xml.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>") || xml.contains("<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part>"))
        #expect(xml.contains("<PartNumber>2</PartNumber>"))
    }

    // MARK: configuration

    @Test func endpoints() throws {
        let credentials = SigV4Credentials(accessKeyID: "k", secretAccessKey: "s")
        let r2 = try UpstreamConfiguration(endpoint: "https://acct.r2.cloudflarestorage.com", region: "auto", credentials: credentials, spoolDirectory: "/tmp")
        #expect(r2.isTLS)
        #expect(r2.hostHeader == "acct.r2.cloudflarestorage.com")
        let local = try UpstreamConfiguration(endpoint: "http://127.0.0.1:8333", region: "us-east-1", credentials: credentials, spoolDirectory: "/tmp")
        #expect(!local.isTLS)
        #expect(local.hostHeader == "127.0.0.1:8333")
        #expect(throws: UpstreamConfigurationError.self) {
            try UpstreamConfiguration(endpoint: "ftp://x", region: "auto", credentials: credentials, spoolDirectory: "/tmp")
        }
        #expect(throws: UpstreamConfigurationError.self) {
            try UpstreamConfiguration(endpoint: "https://x/bucket", region: "auto", credentials: credentials, spoolDirectory: "/tmp")
        }
        #expect(throws: UpstreamConfigurationError.self) {
            try UpstreamConfiguration(endpoint: "https://x", region: "auto", credentials: SigV4Credentials(accessKeyID: "", secretAccessKey: ""), spoolDirectory: "/tmp")
        }
    }

    @Test func requestPaths() {
        var request = UpstreamRequest(method: .GET, bucket: "b", key: "a b/ü+%/..")
        request.query = [("uploads", ""), ("prefix", "x/y z")]
        #expect(request.rawPath == "/b/a%20b/%C3%BC%2B%25/..")
        #expect(request.rawQuery == "uploads&prefix=x%2Fy%20z")
        #expect(UpstreamRequest(method: .GET).rawPath == "/")
        #expect(!UpstreamRequest(method: .PUT).isIdempotent)
        #expect(UpstreamRequest(method: .HEAD).isIdempotent)
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    var value: Bool { lock.withLock { raised } }
    func set() { lock.withLock { raised = true } }
}
