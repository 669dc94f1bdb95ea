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
        let upload = UploadInfo(key: key, uploadID: id, initiated: Date(), attributes: attributes, checksumAlgorithm: checksumAlgorithm)
        try await ledger?.recordUpload(bucket: bucket, upload: upload)
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
        let part = ObjectPart(number: partNumber, size: sent.length, etag: sent.etag, checksum: sent.digest.checksum)
        try await ledger?.recordPart(uploadID: uploadID, part: part)
        return part
    }

    public func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        precondition: WritePrecondition
    ) async throws -> ObjectInfo {
        var chosen: [ObjectPart]?
        if let ledger { chosen = try await Self.recordedParts(ledger, uploadID: uploadID, requested: parts) }
        var request = UpstreamRequest(method: .POST, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID)]
        request.headers = UpstreamMapping.preconditionHeaders(precondition)
        let root = try await document(
            request, payload: .bytes(UpstreamXML.completion(parts)), root: "CompleteMultipartUploadResult", notFound: .noSuchUpload)
        let etag = UpstreamMapping.unquote(root.child("ETag")?.trimmedText ?? "")
        if let chosen { try await ledger?.completeUpload(bucket: bucket, key: key, uploadID: uploadID, etag: etag, parts: chosen) }
        if let info = try await headObject(bucket: bucket, key: key), info.etag == etag { return info }
        // Overwritten already by someone else: describe what this call committed.
        return ObjectInfo(
            bucket: bucket, key: key, size: chosen?.reduce(0) { $0 + $1.size } ?? 0, etag: etag, lastModified: Date(),
            attributes: ObjectAttributes(), checksum: nil, parts: chosen ?? [], isMultipart: true, origin: .client)
    }

    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        var request = UpstreamRequest(method: .DELETE, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID)]
        _ = try await client.send(request, notFound: .noSuchUpload)
        try await ledger?.forgetUpload(uploadID: uploadID)
    }

    /// The requested parts as the gateway recorded them when they were uploaded (size, ETag,
    /// checksum); nil when one was not recorded with the requested ETag. Errors in the request
    /// (order, missing parts) are left to the upstream store's answer.
    private static func recordedParts(
        _ ledger: any MultipartLedger, uploadID: String, requested: [CompletedPart]
    ) async throws -> [ObjectPart]? {
        let recorded = Dictionary(uniqueKeysWithValues: try await ledger.parts(uploadID: uploadID).map { ($0.number, $0) })
        var chosen: [ObjectPart] = []
        for wanted in requested {
            guard let part = recorded[wanted.number], part.etag == UpstreamMapping.unquote(wanted.etag) else { return nil }
            chosen.append(part)
        }
        return chosen
    }

    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        var request = UpstreamRequest(method: .GET, bucket: bucket, key: key)
        request.query = [("uploadId", uploadID), ("max-parts", String(maxParts))]
        if partNumberMarker > 0 { request.query.append(("part-number-marker", String(partNumberMarker))) }
        let root = try await document(request, root: "ListPartsResult", notFound: .noSuchUpload)
        var upload = UploadInfo(
            key: key, uploadID: uploadID, initiated: Date(timeIntervalSince1970: 0), attributes: ObjectAttributes(),
            checksumAlgorithm: UpstreamXML.text(root, "ChecksumAlgorithm"))
        var parts = UpstreamXML.parts(root)
        if let ledger {
            if let recorded = try await ledger.upload(uploadID: uploadID), recorded.key == key { upload = recorded }
            let checksums = Dictionary(try await ledger.parts(uploadID: uploadID).map { ($0.number, $0) }) { _, last in last }
            for index in parts.indices {
                if let recorded = checksums[parts[index].number], recorded.etag == parts[index].etag {
                    parts[index].checksum = recorded.checksum
                }
            }
        }
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
