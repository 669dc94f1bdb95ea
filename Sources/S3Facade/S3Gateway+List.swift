import Foundation
import GatewayCore
import Hummingbird
import Policy
import S3XML
import Storage

extension S3Gateway {
    func listObjects(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        let line = call.line
        let v2: Bool
        if case .listObjectsV2 = call.operation { v2 = true } else { v2 = false }
        let prefix = line.parameter("prefix") ?? ""
        let delimiter = line.parameter("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        let maxKeys = try Self.maxKeys(line.parameter("max-keys"), name: "max-keys")
        let urlEncoded = try Self.encodingType(line)
        var startAfter: String?
        var continuationToken: String?
        if v2 {
            startAfter = line.parameter("start-after").flatMap { $0.isEmpty ? nil : $0 }
            if let token = line.parameter("continuation-token") {
                guard let decoded = ContinuationToken.decode(token) else {
                    throw S3Error(.invalidArgument, "The continuation token provided is incorrect")
                }
                continuationToken = token
                startAfter = decoded
            }
        } else {
            startAfter = line.parameter("marker").flatMap { $0.isEmpty ? nil : $0 }
        }
        let page: ListPage
        if maxKeys == 0 {
            guard try await store.bucket(bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
            page = ListPage(objects: [], commonPrefixes: [], isTruncated: false, nextMarker: nil)
        } else {
            page = try await withObjectErrors(bucket: bucket, key: "") {
                try await store.listObjects(bucket: bucket, query: ListQuery(prefix: prefix, delimiter: delimiter, startAfter: startAfter, maxKeys: maxKeys))
            }
        }
        let encode: (String) -> String = { urlEncoded ? PercentEncoding.encode($0, encodeSlash: false) : $0 }
        let fetchOwner = !v2 || line.parameter("fetch-owner") == "true"

        // About 250 bytes per listed key (400 with its owner): reserved once, not grown by copies.
        var xml = XMLWriter(declaration: true, reservingCapacity: 1024 + page.objects.count * (fetchOwner ? 400 : 250))
        xml.open("ListBucketResult", attributes: s3Namespace)
        xml.element("Name", bucket)
        xml.element("Prefix", encode(prefix))
        if v2 {
            if let continuationToken { xml.element("ContinuationToken", continuationToken) }
            if let startAfter = line.parameter("start-after"), !startAfter.isEmpty { xml.element("StartAfter", encode(startAfter)) }
            xml.element("KeyCount", String(page.objects.count + page.commonPrefixes.count))
        } else {
            xml.element("Marker", encode(line.parameter("marker") ?? ""))
        }
        xml.element("MaxKeys", String(maxKeys))
        if let delimiter { xml.element("Delimiter", encode(delimiter)) }
        if urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        if page.isTruncated, let next = page.nextMarker {
            if v2 {
                xml.element("NextContinuationToken", ContinuationToken.encode(next))
            } else {
                xml.element("NextMarker", encode(next))
            }
        }
        for object in page.objects {
            xml.open("Contents")
            xml.element("Key", encode(object.key))
            xml.element("LastModified", unescaped: { HTTPDate.appendISO8601(object.lastModified, to: &$0) })
            xml.element("ETag", "\"\(object.etag)\"")
            xml.element("Size", String(object.size))
            if let checksum = object.checksum { xml.element("ChecksumAlgorithm", checksum.algorithm) }
            xml.element("StorageClass", "STANDARD")
            if fetchOwner {
                xml.open("Owner")
                xml.element("ID", ownerID(call.principal))
                xml.element("DisplayName", ownerName(call.principal))
                xml.close("Owner")
            }
            xml.close("Contents")
        }
        for commonPrefix in page.commonPrefixes {
            xml.open("CommonPrefixes")
            xml.element("Prefix", encode(commonPrefix))
            xml.close("CommonPrefixes")
        }
        xml.close("ListBucketResult")
        return Self.xml(xml)
    }

    static func maxKeys(_ text: String?, name: String) throws(S3Error) -> Int {
        guard let text else { return 1000 }
        guard let value = Int(text), value >= 0 else {
            throw S3Error(.invalidArgument, "Provided \(name) not an integer or within integer range")
        }
        return min(value, 1000)
    }

    static func encodingType(_ line: S3RequestLine) throws(S3Error) -> Bool {
        guard let value = line.parameter("encoding-type") else { return false }
        guard value.lowercased() == "url" else { throw S3Error(.invalidArgument, "Invalid Encoding Method specified in Request") }
        return true
    }
}

/// ListObjectsV2 continuation tokens: the last key returned, base64-encoded (opaque to clients).
enum ContinuationToken {
    static func encode(_ key: String) -> String { Data(key.utf8).base64EncodedString() }
    static func decode(_ token: String) -> String? {
        guard let data = Data(base64Encoded: token) else { return nil }
        return String(validating: Array(data), as: UTF8.self)
    }
}
