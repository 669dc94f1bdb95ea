import Foundation
import NIOCore
import NIOHTTP1
import Storage

extension UpstreamObjectStore {
    public func createMultipartUpload(
        bucket: String, key: String, attributes: ObjectAttributes, checksumAlgorithm: String?
    ) async throws -> String {
        var request = UpstreamRequest(method: .POST, bucket: bucket, key: key)
        request.query = [("uploads", "")]
        request.headers = UpstreamMapping.headers(attributes: attributes, origin: .client, checksum: nil)
        let root = try await document(request, payload: .bytes([]), root: "InitiateMultipartUploadResult", notFound: .noSuchBucket)
        guard let id = root.child("UploadId")?.trimmedText, !id.isEmpty else {
            throw StorageError(.internalError, "upstream sent no UploadId")
        }
        return id
    }

    public func uploadPart(
        bucket: String, key: String, uploadID: String, partNumber: Int, body: UploadBody
    ) async throws -> ObjectPart {
        guard (1...10_000).contains(partNumber) else { throw StorageError(.invalidPart, "part number \(partNumber)") }
        var request = UpstreamRequest(method: .PUT, bucket: bucket, key: key)
        request.query = [("partNumber", String(partNumber)), ("uploadId", uploadID)]
        let sent: (etag: String, length: Int64, digest: UploadDigest)
        do {
            sent = try await upload(request, body: body)
        } catch let error as StorageError where error.code == .noSuchKey {
            throw StorageError(.noSuchUpload, uploadID)
        }
        return ObjectPart(number: partNumber, size: sent.length, etag: sent.etag, checksum: sent.digest.checksum)
    }

    public func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        precondition: WritePrecondition
    ) async throws -> ObjectInfo {
        var request = UpstreamRequest(method: .POST, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID)]
        request.headers = UpstreamMapping.preconditionHeaders(precondition)
        let root = try await document(
            request, payload: .bytes(UpstreamXML.completion(parts)), root: "CompleteMultipartUploadResult", notFound: .noSuchUpload)
        let etag = UpstreamMapping.unquote(root.child("ETag")?.trimmedText ?? "")
        if let info = try await headObject(bucket: bucket, key: key), info.etag == etag { return info }
        // Overwritten already by someone else: describe what this call committed.
        return ObjectInfo(
            bucket: bucket, key: key, size: 0, etag: etag, lastModified: Date(), attributes: ObjectAttributes(),
            checksum: nil, parts: [], isMultipart: true, origin: .client)
    }

    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        var request = UpstreamRequest(method: .DELETE, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID)]
        _ = try await client.send(request, notFound: .noSuchUpload)
    }

    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        var request = UpstreamRequest(method: .GET, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID), ("max-parts", String(maxParts))]
        if partNumberMarker > 0 { request.query.append(("part-number-marker", String(partNumberMarker))) }
        let root = try await document(request, root: "ListPartsResult", notFound: .noSuchUpload)
        let upload = UploadInfo(
            key: key, uploadID: uploadID, initiated: Date(timeIntervalSince1970: 0), attributes: ObjectAttributes(),
            checksumAlgorithm: UpstreamXML.text(root, "ChecksumAlgorithm"))
        let parts = UpstreamXML.parts(root)
        let truncated = UpstreamXML.bool(root, "IsTruncated")
        return PartsPage(
            upload: upload, parts: parts, isTruncated: truncated,
            nextPartNumberMarker: truncated ? (UpstreamXML.int(root, "NextPartNumberMarker") ?? parts.last?.number) : nil)
    }

    public func listMultipartUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage {
        var request = UpstreamRequest(method: .GET, bucket: bucket)
        request.query = [("uploads", ""), ("max-uploads", String(query.maxUploads)), ("prefix", query.prefix)]
        if let delimiter = query.delimiter, !delimiter.isEmpty { request.query.append(("delimiter", delimiter)) }
        if let marker = query.keyMarker { request.query.append(("key-marker", marker)) }
        if let marker = query.uploadIDMarker { request.query.append(("upload-id-marker", marker)) }
        let root = try await document(request, root: "ListMultipartUploadsResult", notFound: .noSuchBucket)
        let truncated = UpstreamXML.bool(root, "IsTruncated")
        return UploadsPage(
            uploads: UpstreamXML.uploads(root), commonPrefixes: UpstreamXML.prefixes(root), isTruncated: truncated,
            nextKeyMarker: truncated ? UpstreamXML.text(root, "NextKeyMarker") : nil,
            nextUploadIDMarker: truncated ? UpstreamXML.text(root, "NextUploadIdMarker") : nil)
    }
}
