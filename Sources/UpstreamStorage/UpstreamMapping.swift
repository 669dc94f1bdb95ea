import Foundation
import GatewayCore
import NIOHTTP1
import S3XML
import Storage

/// Object attributes to and from upstream headers.
///
/// What S3 has no header for travels as user metadata under a reserved prefix that clients cannot
/// set (the gateway drops client metadata with that prefix) and never see:
/// `x-amz-meta-mediagate-origin: derived <source ETag>` marks a derived variant, and
/// `x-amz-meta-mediagate-checksum: <ALGORITHM> <base64>` keeps the checksum the gateway verified.
enum UpstreamMapping {
    static let reservedPrefix = "mediagate-"
    static let originName = "mediagate-origin"
    static let checksumName = "mediagate-checksum"

    /// Headers that store `attributes`, `origin` and `checksum` with an object.
    static func headers(attributes: ObjectAttributes, origin: ObjectOrigin, checksum: StoredChecksum?) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        if let value = attributes.contentType { out.append(("Content-Type", value)) }
        if let value = attributes.cacheControl { out.append(("Cache-Control", value)) }
        if let value = attributes.contentDisposition { out.append(("Content-Disposition", value)) }
        if let value = attributes.contentEncoding { out.append(("Content-Encoding", value)) }
        if let value = attributes.contentLanguage { out.append(("Content-Language", value)) }
        if let value = attributes.expires { out.append(("Expires", value)) }
        for (key, value) in attributes.userMetadata.sorted(by: { $0.key < $1.key })
        where !key.lowercased().hasPrefix(reservedPrefix) {
            out.append(("x-amz-meta-" + key, value))
        }
        if case .derived(let sourceETag) = origin { out.append(("x-amz-meta-" + originName, "derived " + sourceETag)) }
        if let checksum { out.append(("x-amz-meta-" + checksumName, checksum.algorithm + " " + checksum.value)) }
        return out
    }

    /// An object's description from a HEAD or GET answer.
    static func info(bucket: String, key: String, headers: HTTPHeaders) -> ObjectInfo {
        var attributes = ObjectAttributes()
        attributes.contentType = headers.first(name: "Content-Type")
        attributes.cacheControl = headers.first(name: "Cache-Control")
        attributes.contentDisposition = headers.first(name: "Content-Disposition")
        attributes.contentEncoding = headers.first(name: "Content-Encoding")
        attributes.contentLanguage = headers.first(name: "Content-Language")
        attributes.expires = headers.first(name: "Expires")
        var origin = ObjectOrigin.client
        var checksum: StoredChecksum?
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("x-amz-meta-") else { continue }
            let metaKey = String(lower.dropFirst("x-amz-meta-".count))
            switch metaKey {
            case originName:
                let words = value.split(separator: " ", maxSplits: 1)
                if words.count == 2, words[0] == "derived" { origin = .derived(sourceETag: String(words[1])) }
            case checksumName:
                let words = value.split(separator: " ", maxSplits: 1)
                if words.count == 2 { checksum = StoredChecksum(algorithm: String(words[0]), value: String(words[1])) }
            default:
                guard !metaKey.hasPrefix(reservedPrefix) else { continue }
                attributes.userMetadata[metaKey] = attributes.userMetadata[metaKey].map { $0 + "," + value } ?? value
            }
        }
        let etag = unquote(headers.first(name: "ETag") ?? "")
        var size = Int64(headers.first(name: "Content-Length") ?? "") ?? 0
        if let range = headers.first(name: "Content-Range"), let total = range.split(separator: "/").last.flatMap({ Int64($0) }) {
            size = total
        }
        let lastModified = headers.first(name: "Last-Modified").flatMap(HTTPDate.parse) ?? Date(timeIntervalSince1970: 0)
        return ObjectInfo(
            bucket: bucket, key: key, size: size, etag: etag, lastModified: lastModified, attributes: attributes,
            checksum: checksum, parts: [], isMultipart: etag.contains("-"), origin: origin)
    }

    static func unquote(_ etag: String) -> String {
        var text = Substring(etag.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = text.dropFirst().dropLast() }
        return String(text)
    }

    static func quote(_ etag: String) -> String { "\"" + etag + "\"" }

    /// The `If-None-Match`/`If-Match` header a write precondition becomes.
    static func preconditionHeaders(_ precondition: WritePrecondition) -> [(name: String, value: String)] {
        switch precondition {
        case .none: []
        case .ifAbsent: [("If-None-Match", "*")]
        case .ifMatch(let etag): [("If-Match", quote(etag))]
        }
    }
}

/// Reading upstream XML answers.
enum UpstreamXML {
    static let limits = XMLLimits(maxBytes: 64 << 20, maxDepth: 16, maxElements: 1_000_000)

    static func parse(_ bytes: some Collection<UInt8>, root: String) throws -> XMLElementNode {
        let node: XMLElementNode
        do {
            node = try XMLDocumentParser.parse(bytes, limits: limits)
        } catch {
            throw StorageError(.internalError, "upstream sent malformed XML for \(root): \(error)")
        }
        if node.name == "Error" {
            // CompleteMultipartUpload may fail after a 200 head: the error is in the body.
            let code = node.child("Code")?.trimmedText ?? ""
            let mapped = UpstreamClient.errorCode(status: 200, code: code, notFound: .noSuchKey)
            if code == "InternalError" || code == "ServiceUnavailable" { throw StorageError(.serviceUnavailable, "upstream \(code)") }
            throw StorageError(mapped, "upstream \(code) \(node.child("Message")?.trimmedText ?? "")")
        }
        guard node.name == root else { throw StorageError(.internalError, "upstream sent \(node.name), expected \(root)") }
        return node
    }

    static func text(_ node: XMLElementNode, _ name: String) -> String? { node.child(name)?.text }

    static func bool(_ node: XMLElementNode, _ name: String) -> Bool { node.child(name)?.trimmedText == "true" }

    static func int(_ node: XMLElementNode, _ name: String) -> Int? { node.child(name).flatMap { Int($0.trimmedText) } }

    static func date(_ node: XMLElementNode, _ name: String) -> Date {
        node.child(name).flatMap { HTTPDate.parse($0.trimmedText) } ?? Date(timeIntervalSince1970: 0)
    }

    static func buckets(_ root: XMLElementNode) -> [BucketInfo] {
        (root.child("Buckets")?.children(named: "Bucket") ?? []).compactMap { bucket in
            guard let name = bucket.child("Name")?.trimmedText else { return nil }
            return BucketInfo(name: name, creationDate: date(bucket, "CreationDate"))
        }
    }

    static func objects(_ root: XMLElementNode, bucket: String) -> [ObjectInfo] {
        root.children(named: "Contents").compactMap { item in
            guard let key = text(item, "Key") else { return nil }
            let etag = UpstreamMapping.unquote(text(item, "ETag") ?? "")
            return ObjectInfo(
                bucket: bucket, key: key, size: Int64(item.child("Size")?.trimmedText ?? "") ?? 0, etag: etag,
                lastModified: date(item, "LastModified"), attributes: ObjectAttributes(), checksum: nil, parts: [],
                isMultipart: etag.contains("-"), origin: .client)
        }
    }

    static func prefixes(_ root: XMLElementNode) -> [String] {
        root.children(named: "CommonPrefixes").compactMap { text($0, "Prefix") }
    }

    static func parts(_ root: XMLElementNode) -> [ObjectPart] {
        root.children(named: "Part").compactMap { part in
            guard let number = int(part, "PartNumber") else { return nil }
            return ObjectPart(
                number: number, size: Int64(part.child("Size")?.trimmedText ?? "") ?? 0,
                etag: UpstreamMapping.unquote(text(part, "ETag") ?? ""))
        }
    }

    static func uploads(_ root: XMLElementNode) -> [UploadInfo] {
        root.children(named: "Upload").compactMap { upload in
            guard let key = text(upload, "Key"), let id = text(upload, "UploadId") else { return nil }
            return UploadInfo(
                key: key, uploadID: id, initiated: date(upload, "Initiated"), attributes: ObjectAttributes(),
                checksumAlgorithm: text(upload, "ChecksumAlgorithm"))
        }
    }

    /// The CompleteMultipartUpload document for `parts`.
    static func completion(_ parts: [Storage.CompletedPart]) -> [UInt8] {
        var xml = XMLWriter()
        xml.open("CompleteMultipartUpload", attributes: [("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")])
        for part in parts {
            xml.open("Part")
            xml.element("PartNumber", part.number)
            xml.element("ETag", UpstreamMapping.quote(part.etag))
            xml.close("Part")
        }
        xml.close("CompleteMultipartUpload")
        return xml.bytes
    }
}
