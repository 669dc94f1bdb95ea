import Foundation
import Storage

extension DiskObjectStore {
    /// Starts an upload.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func createMultipartUpload(
        bucket: String, key: String, attributes: ObjectAttributes, checksumAlgorithm: String?
    ) async throws -> String {
        let initiated = StorageClock.now()
        let upload = UploadInfo(
            key: key, uploadID: UploadID.make(initiated: initiated), initiated: initiated,
            attributes: attributes, checksumAlgorithm: checksumAlgorithm
        )
        try await index.createUpload(bucket: bucket, upload: upload)
        return upload.uploadID
    }

    /// Streams a part (1...10000) into its own blob and records it, replacing (and deleting) an
    /// earlier part with the same number.
    /// - Throws: ``StorageError/Code/noSuchUpload`` (also when the upload ends while the part
    ///   streams), ``StorageError/Code/invalidPart`` for a number outside 1...10000, or what the
    ///   body throws; nothing of a failed part remains.
    public func uploadPart(
        bucket: String, key: String, uploadID: String, partNumber: Int, body: UploadBody
    ) async throws -> ObjectPart {
        guard (1...10_000).contains(partNumber) else { throw StorageError(.invalidPart, "part number \(partNumber)") }
        guard try await index.upload(bucket: bucket, key: key, uploadID: uploadID) != nil else {
            throw StorageError(.noSuchUpload, uploadID)
        }
        let blob = try await files.write(body)
        let part = ObjectPart(number: partNumber, size: blob.size, etag: blob.digest.md5Hex, checksum: blob.digest.checksum)
        let index = self.index
        return try await commit(newBlobs: [blob.id]) {
            let replaced = try await index.putPart(
                bucket: bucket, key: key, uploadID: uploadID, part: PartRecord(part: part, blob: blob.id)
            )
            return (part, replaced.map { [$0] } ?? [])
        }
    }

    /// Makes the named parts the object, in one index transaction (no bytes are copied), and
    /// deletes the parts not named and the replaced version's blobs.
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart``,
    ///   ``StorageError/Code/invalidPartOrder``, ``StorageError/Code/entityTooSmall``,
    ///   ``StorageError/Code/preconditionFailed``; the upload then stays as it was.
    public func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        precondition: WritePrecondition
    ) async throws -> ObjectInfo {
        let options = CompletionOptions(
            minimumPartSize: minimumPartSize, lastModified: StorageClock.now(), precondition: precondition
        )
        let index = self.index
        return try await commit(newBlobs: []) {
            let outcome = try await index.completeUpload(
                bucket: bucket, key: key, uploadID: uploadID, parts: parts, options: options
            )
            return (outcome.record.info, outcome.freedBlobs)
        }
    }

    /// Abandons an upload and deletes its parts.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        let index = self.index
        try await commit(newBlobs: []) {
            ((), try await index.abortUpload(bucket: bucket, key: key, uploadID: uploadID))
        }
    }

    /// Parts after `partNumberMarker`, ascending, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        try await index.listParts(
            bucket: bucket, key: key, uploadID: uploadID, partNumberMarker: partNumberMarker, maxParts: maxParts
        )
    }

    /// Uploads in progress, by key bytes then initiation.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listMultipartUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage {
        try await index.listUploads(bucket: bucket, query: query)
    }
}
