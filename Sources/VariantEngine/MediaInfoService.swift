import Foundation
import NIOCore
import Storage

/// Media info of objects (SPEC §5): computed off the request path when a source is written, or
/// on first ask; stored per object version; `PATCH` fills only what is still empty.
public final class MediaInfoService: Sendable {
    let store: any ObjectStore
    let records: any MediaInfoStore
    let workers: VariantWorkers
    let analyzer: MediaAnalyzer

    /// Creates the service.
    public init(store: any ObjectStore, records: any MediaInfoStore, workers: VariantWorkers, analyzer: MediaAnalyzer = MediaAnalyzer()) {
        self.store = store
        self.records = records
        self.workers = workers
        self.analyzer = analyzer
    }

    /// The media info of the object's current version, computed now when needed.
    /// - Throws: `StorageError` `.noSuchKey`; ``VariantError`` `.busy` or `.imageTooLarge`.
    public func info(bucket: String, key: String) async throws -> MediaInfo {
        try await current(bucket: bucket, key: key).info
    }

    /// Fills the fields of `patch` that are still empty for the current version.
    /// - Throws: `StorageError` `.noSuchKey`.
    public func fill(bucket: String, key: String, patch: MediaInfo) async throws -> MediaInfo {
        let etag = try await current(bucket: bucket, key: key).etag
        return try await records.fill(patch, bucket: bucket, key: key, etag: etag)
    }

    /// The info of the current version and that version's ETag, computed now when needed.
    private func current(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String) {
        guard let object = try await store.headObject(bucket: bucket, key: key) else { throw StorageError(.noSuchKey, key) }
        if let stored = try await records.mediaInfo(bucket: bucket, key: key), stored.etag == object.etag, stored.info.sha256 != nil {
            return stored
        }
        return try await compute(bucket: bucket, key: key)
    }

    /// Computes a just-written source's info in the background.
    public func computeLater(bucket: String, key: String) {
        RequestExecutor.startOutsideRequest { _ = try? await self.compute(bucket: bucket, key: key) }
    }

    private func compute(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String) {
        let reader = try await store.openObject(bucket: bucket, key: key)
        guard reader.info.size <= Int64(analyzer.limits.maxBytes) else {
            throw VariantError(.imageTooLarge, "object has \(reader.info.size) bytes, over \(analyzer.limits.maxBytes)")
        }
        let analyzer = self.analyzer
        let info = try await workers.run(loading: { () async throws -> [UInt8] in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(reader.info.size))
            for try await buffer in reader.read(range: nil) { bytes.append(contentsOf: buffer.readableBytesView) }
            return bytes
        }, { (input: [UInt8]) throws(VariantError) -> MediaInfo in analyzer.analyze(input) })
        return (try await records.saveComputed(info, bucket: bucket, key: key, etag: reader.info.etag), reader.info.etag)
    }
}
