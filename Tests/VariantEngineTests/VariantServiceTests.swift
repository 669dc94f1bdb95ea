import Foundation
import Integrity
import NIOCore
import Storage
import Synchronization
import Testing

@testable import VariantEngine

/// A thread-safe counter for event callbacks.
final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

/// Small store helpers: a PUT of whole bytes with their real MD5, and reading a reader whole.
enum StoreHelper {
    static func body(_ bytes: [UInt8]) -> UploadBody {
        let digest = UploadDigest(md5Hex: MD5Hasher.hex(MD5Hasher.digest(bytes)), checksum: nil)
        return UploadBody(chunks: ByteStream.buffers([ByteBuffer(bytes: bytes)]), finish: { digest })
    }

    @discardableResult
    static func put(_ store: any ObjectStore, _ key: String, _ bytes: [UInt8], origin: ObjectOrigin = .client,
                    bucket: String = "b") async throws -> ObjectInfo {
        try await store.putObject(
            bucket: bucket, key: key, attributes: ObjectAttributes(contentType: "application/octet-stream"),
            precondition: .none, origin: origin, body: body(bytes))
    }

    static func readAll(_ reader: any ObjectReader) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in reader.read(range: nil) { bytes += buffer.readableBytesView }
        return bytes
    }
}

/// A service over an in-memory store with bucket `b`, counting derivations and cache hits.
struct ServiceHarness: Sendable {
    let store: InMemoryObjectStore
    let service: VariantService
    let derived: Counter
    let hits: Counter

    /// Runs `body`, then stops the worker threads whatever happened.
    static func run(_ body: (ServiceHarness) async throws -> Void) async throws {
        let store = InMemoryObjectStore()
        try await store.createBucket("b")
        let workers = VariantWorkers(threads: 2, queueBound: 64)
        let derived = Counter(), hits = Counter()
        let events = VariantEvents(derived: { _ in derived.increment() }, cacheHit: { hits.increment() })
        let harness = ServiceHarness(
            store: store, service: VariantService(store: store, workers: workers, events: events), derived: derived, hits: hits)
        do {
            try await body(harness)
        } catch {
            try? await workers.shutdown()
            throw error
        }
        try await workers.shutdown()
    }

    /// The whole variant at `key`, which must be a variant key.
    func variant(_ key: String) async throws -> (bytes: [UInt8], info: ObjectInfo) {
        let reader = try #require(try await service.open(bucket: "b", key: key, watermark: "© test"))
        return (try await StoreHelper.readAll(reader), reader.info)
    }
}

struct VariantServiceTests {
    static let thumb = "photos/p/thumb-400.jpg"
    static let source = "photos/p/original.jpg"

    @Test("24 concurrent first reads derive once and all get the same bytes")
    func concurrentFirstReads() async throws {
        try await ServiceHarness.run { h in
            let bytes = try Corpus.bytes("photo-mid.jpg")
            let source = try await StoreHelper.put(h.store, Self.source, bytes)
            #expect(source.etag == MD5Hasher.hex(MD5Hasher.digest(bytes)))
            let results = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<24 {
                    group.addTask { try await h.variant(Self.thumb).bytes }
                }
                var all: [[UInt8]] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == 24)
            #expect(Set(results).count == 1)
            #expect(h.derived.count == 1)
            let stored = try #require(try await h.store.headObject(bucket: "b", key: Self.thumb))
            #expect(stored.origin == .derived(sourceETag: source.etag))
            #expect(stored.attributes.contentType == "image/jpeg")
            #expect(stored.etag == MD5Hasher.hex(MD5Hasher.digest(results[0])))
            #expect(hasMagic(results[0], of: .jpg))
            let header = try VariantPipeline().readHeader(results[0])
            #expect(header.width == 400 && header.height == 300)
            // A later read serves the stored object.
            let again = try await h.variant(Self.thumb)
            #expect(again.bytes == results[0])
            #expect(h.derived.count == 1)
            #expect(h.hits.count >= 1)
        }
    }

    @Test("after the source is overwritten, reads get a variant of the new source")
    func overwrittenSource() async throws {
        try await ServiceHarness.run { h in
            let first = try await StoreHelper.put(h.store, Self.source, try Corpus.bytes("photo-mid.jpg"))
            let old = try await h.variant(Self.thumb)
            #expect(old.info.origin == .derived(sourceETag: first.etag))
            let oldHeader = try VariantPipeline().readHeader(old.bytes)
            #expect(oldHeader.width == 400 && oldHeader.height == 300)

            let second = try await StoreHelper.put(h.store, Self.source, try Corpus.bytes("exif-orientation-6.jpg"))
            #expect(second.etag != first.etag)
            let new = try await h.variant(Self.thumb)
            #expect(new.info.origin == .derived(sourceETag: second.etag))
            let stored = try await h.store.headObject(bucket: "b", key: Self.thumb)
            #expect(stored?.origin == ObjectOrigin.derived(sourceETag: second.etag))
            // README: display size 1152x1536, so 400 wide is portrait, 533 high.
            let header = try VariantPipeline().readHeader(new.bytes)
            #expect(header.width == 400 && abs(header.height - 533) <= 1, "\(header.width)x\(header.height)")
            #expect(h.derived.count == 2)
        }
    }

    @Test("a variant of a deleted or never-written source is noSuchKey")
    func missingSource() async throws {
        try await ServiceHarness.run { h in
            try await StoreHelper.put(h.store, Self.source, try Corpus.bytes("photo-mid.jpg"))
            _ = try await h.variant(Self.thumb)
            try await h.store.deleteObject(bucket: "b", key: Self.source)
            let error = await #expect(throws: StorageError.self) { _ = try await h.variant(Self.thumb) }
            #expect(error?.code == StorageError.Code.noSuchKey)
            let never = await #expect(throws: StorageError.self) { _ = try await h.variant("nobody/thumb-800.webp") }
            #expect(never?.code == StorageError.Code.noSuchKey)
        }
    }

    @Test("the source is original.<ext> in SPEC order: a new jpg outranks a png")
    func sourceOrder() async throws {
        try await ServiceHarness.run { h in
            try await StoreHelper.put(h.store, "q/original.png", try Corpus.bytes("gray.png"))
            let square = try VariantPipeline().readHeader(try await h.variant("q/thumb-400.png").bytes)
            #expect(square.width == 400 && square.height == 400)
            let jpg = try await StoreHelper.put(h.store, "q/original.jpg", try Corpus.bytes("photo-mid.jpg"))
            let wide = try await h.variant("q/thumb-400.png")
            #expect(wide.info.origin == .derived(sourceETag: jpg.etag))
            let header = try VariantPipeline().readHeader(wide.bytes)
            #expect(header.width == 400 && header.height == 300)
        }
    }

    @Test("a client's object at a variant key is served as is and survives invalidation")
    func clientObjectAndInvalidate() async throws {
        try await ServiceHarness.run { h in
            try await StoreHelper.put(h.store, Self.source, try Corpus.bytes("photo-mid.jpg"))
            _ = try await h.variant(Self.thumb)
            _ = try await h.variant("photos/p/thumb-400.webp")
            #expect(h.derived.count == 2)
            let clientBytes = Array("the client's own thumbnail, not even an image".utf8)
            try await StoreHelper.put(h.store, "photos/p/thumb-800.jpg", clientBytes)
            let client = try await h.variant("photos/p/thumb-800.jpg")
            #expect(client.bytes == clientBytes)
            #expect(client.info.origin == .client)
            #expect(h.derived.count == 2)

            // Not a source key: nothing happens.
            await h.service.invalidate(bucket: "b", sourceKey: Self.thumb)
            #expect(try await h.store.headObject(bucket: "b", key: Self.thumb) != nil)

            await h.service.invalidate(bucket: "b", sourceKey: Self.source)
            #expect(try await h.store.headObject(bucket: "b", key: Self.thumb) == nil)
            #expect(try await h.store.headObject(bucket: "b", key: "photos/p/thumb-400.webp") == nil)
            let kept = try await h.store.headObject(bucket: "b", key: "photos/p/thumb-800.jpg")
            #expect(kept?.origin == ObjectOrigin.client)
            #expect(try await h.store.headObject(bucket: "b", key: Self.source) != nil)
            #expect(try await h.variant("photos/p/thumb-800.jpg").bytes == clientBytes)
        }
    }

    @Test("keys that are not variant keys are not the service's")
    func notVariantKeys() async throws {
        try await ServiceHarness.run { h in
            try await StoreHelper.put(h.store, Self.source, try Corpus.bytes("gray.jpg"))
            let sourceReader = try await h.service.open(bucket: "b", key: Self.source, watermark: "")
            #expect(sourceReader.map { $0.info.key } == nil)
            let jpegReader = try await h.service.open(bucket: "b", key: "photos/p/thumb-400.jpeg", watermark: "")
            #expect(jpegReader.map { $0.info.key } == nil)
            #expect(!h.service.isVariant(Self.source))
            #expect(h.service.isVariant(Self.thumb))
            #expect(h.derived.count == 0)
        }
    }

    /// A derivation shared by concurrent first reads is not part of the first reader's request
    /// (that reader may leave while others wait): it sees no request executor.
    @Test("a shared derivation runs outside the request that started it")
    func sharedJobRunsOutsideTheRequest() async throws {
        let flight = SingleFlight<Bool>()
        let seen = try await RequestExecutor.$current.withValue(QueueExecutor()) {
            let inRequest = RequestExecutor.current != nil
            return (inRequest, try await flight.run("k") { RequestExecutor.current != nil })
        }
        #expect(seen.0)
        #expect(!seen.1)
    }

    /// Runs jobs on a serial dispatch queue.
    final class QueueExecutor: TaskExecutor {
        let queue = DispatchQueue(label: "queue-executor")
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    struct HostileSource: Sendable, CustomTestStringConvertible {
        var file: String
        var key: String
        var code: VariantError.Code
        var testDescription: String { file }
    }

    @Test("a source that cannot be derived from fails clearly and stores nothing", arguments: [
        HostileSource(file: "hostile/png-bomb-50000x50000.png", key: "h/original.png", code: .imageTooLarge),
        HostileSource(file: "hostile/jpeg-huge-dimensions.jpg", key: "h/original.jpg", code: .imageTooLarge),
        HostileSource(file: "hostile/not-an-image.jpg", key: "h/original.jpg", code: .invalidImage),
        HostileSource(file: "hostile/truncated.jpg", key: "h/original.jpg", code: .invalidImage),
    ])
    func hostileSource(_ input: HostileSource) async throws {
        try await ServiceHarness.run { h in
            try await StoreHelper.put(h.store, input.key, try Corpus.bytes(input.file))
            let error = await #expect(throws: VariantError.self) { _ = try await h.variant("h/thumb-400.jpg") }
            #expect(error?.code == Optional(input.code), "\(String(describing: error))")
            #expect(try await h.store.headObject(bucket: "b", key: "h/thumb-400.jpg") == nil)
            let listed = try await h.store.listObjects(bucket: "b", query: ListQuery(prefix: "h/"))
            #expect(listed.objects.map(\.key) == [input.key])
            #expect(h.derived.count == 0)
        }
    }
}
