import Foundation
import NIOCore

extension InMemoryObjectStore {
    /// Starts an upload.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func createMultipartUpload(
        bucket: String, key: String, attributes: ObjectAttributes, checksumAlgorithm: String?
    ) async throws -> String {
        let initiated = StorageClock.now()
        let info = UploadInfo(
            key: key, uploadID: UploadID.make(initiated: initiated), initiated: initiated,
            attributes: attributes, checksumAlgorithm: checksumAlgorithm
        )
        try state.withLock { state throws(StorageError) in
            _ = try state.bucket(bucket)
            state.uploads[info.uploadID] = MemoryUpload(bucket: bucket, info: info)
        }
        return info.uploadID
    }

    /// Stores a part (1...10000), replacing one with the same number.
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart`` for a
    ///   number outside 1...10000, or what the body throws.
    public func uploadPart(
        bucket: String, key: String, uploadID: String, partNumber: Int, body: UploadBody
    ) async throws -> ObjectPart {
        guard (1...10_000).contains(partNumber) else { throw StorageError(.invalidPart, "part number \(partNumber)") }
        _ = try state.withLock { state throws(StorageError) in try state.upload(uploadID, bucket: bucket, key: key) }
        let (bytes, digest) = try await body.gathered()
        let part = ObjectPart(
            number: partNumber, size: Int64(bytes.readableBytes), etag: digest.md5Hex, checksum: digest.checksum
        )
        try state.withLock { state throws(StorageError) in
            _ = try state.upload(uploadID, bucket: bucket, key: key)
            state.uploads[uploadID]?.parts[partNumber] = MemoryPart(part: part, bytes: bytes)
        }
        return part
    }

    /// Assembles the named parts atomically with `precondition` and ends the upload.
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart``,
    ///   ``StorageError/Code/invalidPartOrder``, ``StorageError/Code/entityTooSmall``,
    ///   ``StorageError/Code/preconditionFailed``.
    public func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        precondition: WritePrecondition
    ) async throws -> ObjectInfo {
        let lastModified = StorageClock.now()
        let minimum = minimumPartSize
        return try state.withLock { state in
            let upload = try state.upload(uploadID, bucket: bucket, key: key)
            let chosen = try MultipartCompletion.select(
                requested: parts, uploaded: upload.parts, minimumPartSize: minimum, part: \.part
            )
            var bytes = ByteBuffer()
            for part in chosen {
                var slice = part.bytes
                bytes.writeBuffer(&slice)
            }
            let info = MultipartCompletion.objectInfo(
                bucket: bucket, upload: upload.info, parts: chosen.map(\.part), lastModified: lastModified
            )
            try state.commit(MemoryObject(info: info, bytes: bytes), precondition: precondition)
            state.uploads[uploadID] = nil
            return info
        }
    }

    /// Abandons an upload and drops its parts.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        try state.withLock { state throws(StorageError) in
            _ = try state.upload(uploadID, bucket: bucket, key: key)
            state.uploads[uploadID] = nil
        }
    }

    /// Parts after `partNumberMarker`, ascending, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    public func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage {
        let upload = try state.withLock { state throws(StorageError) in
            try state.upload(uploadID, bucket: bucket, key: key)
        }
        let after = upload.parts.values.map(\.part).filter { $0.number > partNumberMarker }
            .sorted { $0.number < $1.number }
        let page = Array(after.prefix(max(0, maxParts)))
        return PartsPage(
            upload: upload.info, parts: page, isTruncated: page.count < after.count,
            nextPartNumberMarker: page.last?.number
        )
    }

    /// Uploads in progress, by key bytes then upload id (initiation order).
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listMultipartUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage {
        let uploads = try state.withLock { state throws(StorageError) in
            _ = try state.bucket(bucket)
            return state.uploads.values.filter { $0.bucket == bucket }.map(\.info)
        }
        let sorted = uploads.map { (key: Array($0.key.utf8), upload: $0) }.sorted { lhs, rhs in
            lhs.key == rhs.key
                ? lhs.upload.uploadID < rhs.upload.uploadID : lhs.key.lexicographicallyPrecedes(rhs.key)
        }
        var machine = ListingMachine(query: query)
        while let window = machine.nextWindow {
            machine.consume(Array(
                sorted.lazy.filter { KeyBytes.admits(window, key: $0.key, tiebreak: $0.upload.uploadID) }
                    .prefix(window.limit).map(\.upload)
            ))
        }
        return machine.page
    }
}
