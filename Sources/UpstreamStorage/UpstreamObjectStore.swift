import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import S3XML
import Storage

/// An ``ObjectStore`` whose buckets and objects live in an upstream S3-compatible store (Cloudflare
/// R2 in production), under the same bucket names and keys, so the upstream bucket stays usable by
/// any S3 tool.
///
/// Every call becomes one or two upstream requests signed with the gateway's own credentials.
/// Bytes stream both ways; an upload is held back by one chunk so that the upstream store never
/// receives a complete body the gateway has not verified (see ``HeldBackUpload``). Reads are
/// pinned to one version with `If-Match`, and resumed from where they broke on a transient failure.
///
/// Atomicity, preconditions and consistency are the upstream store's: a PUT is all or nothing,
/// `If-None-Match: *` and `If-Match` are sent with writes.
public final class UpstreamObjectStore: ObjectStore {
    let client: UpstreamClient
    let configuration: UpstreamConfiguration
    /// Multipart facts the upstream store does not keep (declared attributes, part checksums, the
    /// parts of completed objects); without one, multipart objects have no parts or checksums.
    let ledger: (any MultipartLedger)?

    public init(
        configuration: UpstreamConfiguration, ledger: (any MultipartLedger)?, logger: Logger = Logger(label: "mediagate.upstream")
    ) throws {
        try FileManager.default.createDirectory(atPath: configuration.spoolDirectory, withIntermediateDirectories: true)
        // Staging files left by a crash: nothing refers to them (one process per data dir, serve.lock).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.spoolDirectory)) ?? [] {
            try? FileManager.default.removeItem(atPath: configuration.spoolDirectory + "/" + name)
        }
        self.configuration = configuration
        self.ledger = ledger
        self.client = UpstreamClient(configuration: configuration, logger: logger)
    }

    /// Closes the upstream connections.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    // MARK: Buckets

    public func createBucket(_ name: String) async throws {
        // AWS and R2 answer 200 to a repeated create in us-east-1; ask first for S3's 409.
        if try await bucket(name) != nil { throw StorageError(.bucketAlreadyExists, name) }
        _ = try await client.send(UpstreamRequest(method: .PUT, bucket: name), payload: .bytes([]))
    }

    public func deleteBucket(_ name: String) async throws {
        _ = try await client.send(UpstreamRequest(method: .DELETE, bucket: name), notFound: .noSuchBucket)
    }

    public func bucket(_ name: String) async throws -> BucketInfo? {
        let response = try await client.send(UpstreamRequest(method: .HEAD, bucket: name), accepting: [404])
        guard response.status == .ok else { return nil }
        return BucketInfo(name: name, creationDate: Date(timeIntervalSince1970: 0))
    }

    public func listBuckets() async throws -> [BucketInfo] {
        let root = try await document(UpstreamRequest(method: .GET), root: "ListAllMyBucketsResult")
        return UpstreamXML.buckets(root).sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    // MARK: Objects

    public func putObject(
        bucket: String, key: String, attributes: ObjectAttributes, precondition: WritePrecondition,
        origin: ObjectOrigin, body: UploadBody
    ) async throws -> ObjectInfo {
        var request = UpstreamRequest(method: .PUT, bucket: bucket, key: key)
        request.headers = UpstreamMapping.preconditionHeaders(precondition)
        let sent: (etag: String, length: Int64, digest: UploadDigest)
        do {
            sent = try await upload(request, body: body) { checksum in
                UpstreamMapping.headers(attributes: attributes, origin: origin, checksum: checksum)
            }
        } catch let error as StorageError where error.code == .preconditionFailed {
            // S3 answers If-Match on a missing key with 404; some stores say 412.
            if case .ifMatch = precondition, try await headObject(bucket: bucket, key: key) == nil {
                throw StorageError(.noSuchKey, key)
            }
            throw error
        }
        return ObjectInfo(
            bucket: bucket, key: key, size: sent.length, etag: sent.etag, lastModified: Date(), attributes: attributes,
            checksum: sent.digest.checksum, parts: [], isMultipart: false, origin: origin)
    }

    /// Sends the GET at once, so that the version described is the version whose bytes are already
    /// on their way: nothing can change between describing the object and reading it. A ranged
    /// read, or no read at all (HEAD, 304), drops that answer (its connection closes).
    public func openObject(bucket: String, key: String) async throws -> any ObjectReader {
        let response = try await client.send(UpstreamRequest(method: .GET, bucket: bucket, key: key))
        let opened = OpenedBody(response.body)
        let info = try await withParts(UpstreamMapping.info(bucket: bucket, key: key, headers: response.headers))
        return UpstreamObjectReader(client: client, info: info, opened: opened)
    }

    public func headObject(bucket: String, key: String) async throws -> ObjectInfo? {
        let response = try await client.send(UpstreamRequest(method: .HEAD, bucket: bucket, key: key), accepting: [404])
        guard response.status == .ok else {
            // A HEAD answer has no body to tell a missing key from a missing bucket.
            if try await self.bucket(bucket) == nil { throw StorageError(.noSuchBucket, bucket) }
            return nil
        }
        return try await withParts(UpstreamMapping.info(bucket: bucket, key: key, headers: response.headers))
    }

    /// A multipart object's parts (sizes and checksums), from the ledger, when it recorded this version.
    func withParts(_ info: ObjectInfo) async throws -> ObjectInfo {
        guard info.isMultipart, let ledger,
            let parts = try await ledger.objectParts(bucket: info.bucket, key: info.key, etag: info.etag)
        else { return info }
        var info = info
        info.parts = parts
        return info
    }

    @discardableResult
    public func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectInfo? {
        let current = try await headObject(bucket: bucket, key: key)
        var request = UpstreamRequest(method: .DELETE, bucket: bucket, key: key)
        switch precondition {
        case .none:
            guard current != nil else { return nil }
        case .ifAbsent:
            if current != nil { throw StorageError(.preconditionFailed, key) }
            return nil
        case .ifMatch(let etag):
            guard let current, current.etag == etag else { throw StorageError(.preconditionFailed, key) }
            request.headers = [("If-Match", UpstreamMapping.quote(etag))]
        }
        _ = try await client.send(request, notFound: .noSuchBucket)
        return current
    }

    public func listObjects(bucket: String, query: ListQuery) async throws -> ListPage {
        var request = UpstreamRequest(method: .GET, bucket: bucket)
        request.query = [("list-type", "2"), ("max-keys", String(query.maxKeys)), ("prefix", query.prefix)]
        if let delimiter = query.delimiter, !delimiter.isEmpty { request.query.append(("delimiter", delimiter)) }
        if let after = Self.upstreamStartAfter(query) { request.query.append(("start-after", after)) }
        let root = try await document(request, root: "ListBucketResult", notFound: .noSuchBucket)
        let objects = UpstreamXML.objects(root, bucket: bucket)
        let prefixes = UpstreamXML.prefixes(root)
        let last = [objects.last?.key, prefixes.last].compactMap { $0 }.max { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return ListPage(objects: objects, commonPrefixes: prefixes, isTruncated: UpstreamXML.bool(root, "IsTruncated"), nextMarker: last)
    }

    /// The `start-after` to send upstream. A marker inside a group that the delimiter rolls up
    /// (the group's common prefix itself, or a key under it) means the whole group was listed: skip
    /// past every key in it.
    static func upstreamStartAfter(_ query: ListQuery) -> String? {
        guard let after = query.startAfter, !after.isEmpty else { return nil }
        guard let delimiter = query.delimiter, !delimiter.isEmpty, after.utf8.starts(with: query.prefix.utf8) else { return after }
        let rest = String(decoding: after.utf8.dropFirst(query.prefix.utf8.count), as: UTF8.self)
        guard let found = rest.range(of: delimiter) else { return after }
        // No valid UTF-8 key sorts after the greatest code point following the group prefix.
        return query.prefix + rest[..<found.upperBound] + "\u{10FFFF}"
    }

    // MARK: Shared

    /// Sends an upload (PUT or UploadPart): streamed when it can be signed without its bytes,
    /// else staged and sent with its SHA-256. `headers` gets the checksum to record, when known.
    func upload(
        _ request: UpstreamRequest, body: UploadBody, headers: (StoredChecksum?) -> [(name: String, value: String)] = { _ in [] }
    ) async throws -> (etag: String, length: Int64, digest: UploadDigest) {
        var request = request
        switch UploadPlan.choose(body.facts, tls: configuration.isTLS, memoryLimit: configuration.memorySpoolLimit) {
        case .stream(let length, let sha256Hex):
            request.headers += headers(body.facts.checksum)
            let held = HeldBackUpload(body)
            let response = try await client.send(request, payload: .stream(held.stream, length: length, sha256Hex: sha256Hex))
            guard let digest = held.verifiedDigest else { throw StorageError(.internalError, "upstream answered before the body ended") }
            return (UpstreamMapping.unquote(response.headers.first(name: "ETag") ?? digest.md5Hex), length, digest)
        case .stage:
            let staged = try await StagedUpload.stage(
                body, directory: configuration.spoolDirectory, memoryLimit: configuration.memorySpoolLimit)
            defer { staged.discard() }
            request.headers += headers(staged.digest.checksum)
            let response = try await client.send(request, payload: staged.payload)
            return (UpstreamMapping.unquote(response.headers.first(name: "ETag") ?? staged.digest.md5Hex), staged.length, staged.digest)
        }
    }

    /// Sends a request and parses the XML answer, whose root must be `root`.
    func document(
        _ request: UpstreamRequest, payload: UpstreamPayload = .none, root: String, notFound: StorageError.Code = .noSuchKey
    ) async throws -> XMLElementNode {
        let response = try await client.send(request, payload: payload, notFound: notFound)
        let bytes = try await response.body.collect(upTo: Int(UpstreamXML.limits.maxBytes))
        return try UpstreamXML.parse(bytes.readableBytesView, root: root)
    }
}
