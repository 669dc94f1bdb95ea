import Foundation
import Integrity
import NIOCore
import Storage

/// What the service reports, for metrics.
public struct VariantEvents: Sendable {
    /// A variant was derived and stored; with how long deriving took.
    public var derived: @Sendable (Duration) -> Void
    /// A stored variant was served.
    public var cacheHit: @Sendable () -> Void

    /// Creates the callbacks.
    public init(derived: @escaping @Sendable (Duration) -> Void = { _ in }, cacheHit: @escaping @Sendable () -> Void = {}) {
        self.derived = derived
        self.cacheHit = cacheHit
    }
}

/// Variants on first read (SPEC §6): finds the source of a variant key, derives the variant once
/// (concurrent first reads share one derivation), stores it as an ordinary object marked as
/// derived from the source's ETag, and serves it; later reads serve the stored object while it
/// was made from the current source.
public final class VariantService: Sendable {
    let store: any ObjectStore
    /// ``store`` when it reads small objects on the calling thread (looked up once).
    private let immediateReads: (any ImmediateObjectReads)?
    let pipeline: VariantPipeline
    let workers: VariantWorkers
    /// The presets variant keys may name.
    public let presets: [VariantPreset]
    let events: VariantEvents
    /// Variant names (`thumb-400.jpg`) derived in the background after a source is written.
    public let prewarm: [String]
    private let flights = SingleFlight<Void>()

    /// Creates the service.
    public init(store: any ObjectStore, pipeline: VariantPipeline = VariantPipeline(), workers: VariantWorkers,
                presets: [VariantPreset] = VariantPreset.defaults, prewarm: [String] = [], events: VariantEvents = VariantEvents()) {
        self.store = store
        self.immediateReads = store as? any ImmediateObjectReads
        self.pipeline = pipeline
        self.workers = workers
        self.presets = presets
        self.prewarm = prewarm
        self.events = events
    }

    /// Whether a key is a variant key.
    public func isVariant(_ key: String) -> Bool {
        VariantAddress.parse(key, presets: presets) != nil
    }

    /// Opens a variant key: the client's own object when one was uploaded there, else a variant
    /// of the current source, derived now if needed. Nil when the key is not a variant key.
    /// - Parameter watermark: the text of watermarked presets, evaluated only to derive.
    /// - Throws: `StorageError` `.noSuchKey` when the source is missing; ``VariantError`` for a
    ///   source that cannot be derived from or when the queue is full; storage errors.
    public func open(bucket: String, key: String, watermark: @autoclosure () -> String) async throws -> (any ObjectReader)? {
        guard let address = VariantAddress.parse(key, presets: presets) else { return nil }
        for _ in 0..<4 {
            // The variant and the most common source (`original.jpg`) in one lookup.
            let (stored, jpeg) = try await store.openObject(bucket: bucket, key: key, withInfoOf: address.directory + "original.jpg")
            if let stored, stored.info.origin == .client {
                // A client's own object at a variant key is never replaced.
                return stored
            }
            guard let source = try await findSource(bucket: bucket, directory: address.directory, jpeg: jpeg) else {
                throw StorageError(.noSuchKey, key)
            }
            if let stored, stored.info.origin == .derived(sourceETag: source.etag) {
                events.cacheHit()
                return stored
            }
            let precondition: WritePrecondition = stored.map { .ifMatch(etag: $0.info.etag) } ?? .ifAbsent
            // Only a derivation needs the text (a cache hit would build it for nothing).
            let watermark = watermark()
            try await flights.run("\(bucket)\u{0}\(key)\u{0}\(source.etag)") {
                try await self.derive(bucket: bucket, address: address, source: source, precondition: precondition, watermark: watermark)
            }
            // Serve what is stored now, if it is still a variant of the current source (a
            // concurrent invalidation may have removed it: look again).
            guard let reader = try await store.openObjectIfPresent(bucket: bucket, key: key) else { continue }
            let current = try await findSource(bucket: bucket, directory: address.directory)
            if reader.info.origin == .client { return reader }
            if let current, reader.info.origin == .derived(sourceETag: current.etag) { return reader }
        }
        throw VariantError(.busy, "the source of \(key) kept changing")
    }

    /// What ``open(bucket:key:watermark:)`` would serve as it is, read on the calling thread
    /// without suspending (``ImmediateObjectReads``): a stored variant of the current
    /// `original.jpg`, or a client's own object at a variant key, with the bytes `wanted` (see
    /// ``ImmediateObjectReads/objectNow(bucket:key:bytes:)``). Nil in every other case
    /// (not a variant key, another source format, a variant to derive, a store that cannot read
    /// at once): ``open(bucket:key:watermark:)`` decides those.
    /// - Important: the caller closes a file it is given.
    public func storedNow(bucket: String, key: String, bytes wanted: ImmediateBytesWanted = .kept) -> (info: ObjectInfo, bytes: ImmediateBytes?)? {
        guard let address = VariantAddress.parse(key, presets: presets),
              let (stored, jpeg) = immediateReads?.objectNow(
                bucket: bucket, key: key, withInfoOf: address.directory + "original.jpg", bytes: wanted),
              let stored
        else { return nil }
        if stored.info.origin == .client { return stored }
        guard let jpeg, stored.info.origin == .derived(sourceETag: jpeg.etag) else {
            // Made from an earlier source: the regular path derives it again.
            if case .file(let file, _)? = stored.bytes { try? file.close() }
            return nil
        }
        events.cacheHit()
        return stored
    }

    /// Removes the derived variants of a source after it was overwritten or deleted. Objects a
    /// client uploaded at variant keys stay.
    public func invalidate(bucket: String, sourceKey: String) async {
        guard let directory = VariantAddress.sourceDirectory(of: sourceKey) else { return }
        for key in VariantAddress.variantKeys(in: directory, presets: presets) {
            guard let info = try? await store.headObject(bucket: bucket, key: key), case .derived = info.origin else { continue }
            // Only that derived version: a client's upload in between stays.
            _ = try? await store.deleteObject(bucket: bucket, key: key, precondition: .ifMatch(etag: info.etag))
        }
    }

    /// Derives the configured ``prewarm`` variants of a source that was just written, in the
    /// background; failures are left for the first read to report.
    public func prewarm(bucket: String, sourceKey: String, watermark: String) {
        guard !prewarm.isEmpty, let directory = VariantAddress.sourceDirectory(of: sourceKey) else { return }
        let names = prewarm
        RequestExecutor.startOutsideRequest {
            for name in names {
                _ = try? await self.open(bucket: bucket, key: directory + name, watermark: watermark)
            }
        }
    }

    /// The source of a directory: `original.<ext>`, first extension found in SPEC order.
    /// - Parameter jpeg: `original.jpg`'s info when the caller read it already.
    func findSource(bucket: String, directory: String, jpeg: ObjectInfo?? = nil) async throws -> ObjectInfo? {
        // `jpg` comes first in the order, and is by far the most common: one key lookup.
        let found: ObjectInfo? = if let jpeg { jpeg } else { try await store.headObject(bucket: bucket, key: directory + "original.jpg") }
        if let found { return found }
        let page = try await store.listObjects(bucket: bucket, query: ListQuery(prefix: directory + "original.", maxKeys: 32))
        for ext in VariantAddress.sourceExtensions {
            if let info = page.objects.first(where: { $0.key == directory + "original." + ext }) { return info }
        }
        return nil
    }

    private func derive(bucket: String, address: VariantAddress, source: ObjectInfo, precondition: WritePrecondition, watermark: String) async throws {
        guard source.size <= Int64(pipeline.limits.maxBytes) else {
            throw VariantError(.imageTooLarge, "source has \(source.size) bytes, over \(pipeline.limits.maxBytes)")
        }
        let reader = try await store.openObject(bucket: bucket, key: source.key)
        let sourceETag = reader.info.etag
        let pipeline = self.pipeline
        let limit = pipeline.limits.maxBytes
        var started = ContinuousClock.now
        // The source is read only once a worker place is ours: the queue bound caps memory too.
        let image = try await workers.run(loading: { () async throws -> [UInt8] in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(reader.info.size))
            for try await buffer in reader.read(range: nil) {
                bytes.append(contentsOf: buffer.readableBytesView)
                guard bytes.count <= limit else { throw VariantError(.imageTooLarge, "source grew past the limit") }
            }
            started = ContinuousClock.now
            return bytes
        }, { (input: [UInt8]) throws(VariantError) -> DerivedImage in
            try pipeline.derive(source: input, preset: address.preset, format: address.format, watermark: watermark)
        })
        let elapsed = ContinuousClock.now - started
        var attributes = ObjectAttributes(contentType: address.format.contentType)
        attributes.cacheControl = "public, max-age=31536000, immutable"
        var digester = BodyDigester(md5: true, sha256: true, checksum: nil)
        image.bytes.withUnsafeBytes { digester.update($0) }
        let digests = digester.finalize()
        let digest = UploadDigest(md5Hex: digests.md5Hex ?? "", checksum: nil)
        let facts = UploadFacts(length: Int64(image.bytes.count), sha256Hex: digests.sha256Hex)
        let body = UploadBody(chunks: ByteStream.buffers([ByteBuffer(bytes: image.bytes)]), facts: facts, finish: { digest })
        do {
            _ = try await store.putObject(
                bucket: bucket, key: address.key, attributes: attributes, precondition: precondition,
                origin: .derived(sourceETag: sourceETag), body: body)
            events.derived(elapsed)
        } catch let error as StorageError where error.code == .preconditionFailed {
            // Someone else stored the key meanwhile (another derivation, or a client): the caller
            // looks again.
        }
    }
}
