import Integrity
import DiskStorage
import Foundation
import PostgresTestSupport
import NIOCore
import PostgresMetadata
import SQLiteMetadata
import Testing

@testable import Storage

/// The one ``ObjectStore`` contract suite: every test in it runs against every ``StoreKind``.
/// Its parts (objects, listing, multipart) are nested suites in their own files.
@Suite("ObjectStore contract")
struct ObjectStoreContract {}

/// The implementations every contract test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    /// Blobs on disk, index in SQLite; every object in a blob file (no inline data).
    case disk
    /// ``disk`` keeping objects up to ``StoreHarness/inlineLimit`` bytes in the index record,
    /// so that tests mix inline and blob versions of a key.
    case diskInline
    /// Blobs on disk, index in PostgreSQL (a real server, a database of its own per test).
    case diskPostgres

    var testDescription: String { rawValue }
}

/// A store under test, with its directory when it has one.
final class StoreHarness: Sendable {
    /// Small multipart parts keep the tests fast; the rule is the same.
    static let minimumPartSize: Int64 = 64
    /// The ``StoreKind/diskInline`` store's inline limit: below most test objects' sizes of
    /// 3000 to 5000 bytes and above others.
    static let inlineLimit: Int64 = 4096

    let kind: StoreKind
    let store: any ObjectStore
    /// The disk store's temp directory (holding `meta.db` and `objects/`).
    let directory: URL?
    /// The PostgreSQL database of a `.diskPostgres` store, and the task running its pool.
    let postgres: PostgresDatabase?
    let pool: Task<Void, Never>?

    private init(
        kind: StoreKind, store: any ObjectStore, directory: URL?, postgres: PostgresDatabase? = nil,
        pool: Task<Void, Never>? = nil
    ) {
        self.kind = kind
        self.store = store
        self.directory = directory
        self.postgres = postgres
        self.pool = pool
    }

    /// A fresh, empty store with one bucket named `bucket`.
    static func make(_ kind: StoreKind, bucket: String? = "b") async throws -> StoreHarness {
        let harness: StoreHarness
        switch kind {
        case .memory:
            harness = StoreHarness(
                kind: kind, store: InMemoryObjectStore(minimumPartSize: minimumPartSize), directory: nil
            )
        case .disk, .diskInline:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("mediagate-storage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            harness = StoreHarness(
                kind: kind, store: try await openDisk(directory, inline: kind == .diskInline), directory: directory
            )
        case .diskPostgres:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("mediagate-storage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
            let pool = Task { await database.run() }
            do {
                let store = try await openDisk(directory, postgres: database)
                harness = StoreHarness(kind: kind, store: store, directory: directory, postgres: database, pool: pool)
            } catch {
                pool.cancel()
                try? FileManager.default.removeItem(at: directory)
                throw error
            }
        }
        if let bucket { try await harness.store.createBucket(bucket) }
        return harness
    }

    /// Opens a disk store (and its SQLite index) on `directory`, with inline data up to
    /// ``inlineLimit`` or none.
    static func openDisk(_ directory: URL, inline: Bool) async throws -> DiskObjectStore {
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("meta.db").path)
        let index = try SQLiteObjectIndex(database: database)
        return try await DiskObjectStore(
            root: directory.appendingPathComponent("objects").path, index: index,
            minimumPartSize: minimumPartSize, inlineLimit: inline ? inlineLimit : 0
        )
    }

    /// Opens a disk store on `directory` with its index in PostgreSQL.
    static func openDisk(_ directory: URL, postgres: PostgresDatabase) async throws -> DiskObjectStore {
        try await DiskObjectStore(
            root: directory.appendingPathComponent("objects").path, index: try await PostgresObjectIndex(database: postgres),
            minimumPartSize: minimumPartSize
        )
    }

    /// Opens the same directory (and database) again, as after a restart.
    func reopen() async throws -> DiskObjectStore {
        guard let directory else { throw TestFailure("no directory") }
        if let postgres { return try await Self.openDisk(directory, postgres: postgres) }
        return try await Self.openDisk(directory, inline: kind == .diskInline)
    }

    var objectsDirectory: URL? { directory?.appendingPathComponent("objects") }

    /// Regular files under `tmp/` and `blobs/` (zeros for the memory store).
    func fileCounts() -> (tmp: Int, blobs: Int) {
        guard let objects = objectsDirectory else { return (0, 0) }
        return (Self.countFiles(objects.appendingPathComponent("tmp")), Self.countFiles(objects.appendingPathComponent("blobs")))
    }

    static func countFiles(_ directory: URL) -> Int {
        guard let enumerator = FileManager.default.enumerator(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey]
        ) else { return 0 }
        var count = 0
        for case let url as URL in enumerator
        where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            count += 1
        }
        return count
    }

    /// Deletes the disk store's directory; call it from a `defer` so the harness outlives the test.
    func cleanUp() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        pool?.cancel()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Upload bodies for tests.
enum TestBody {
    /// `bytes` in chunks of `chunkSize`, with their length declared (as the S3 facade does);
    /// `finish()` returns their MD5.
    static func of(_ bytes: [UInt8], chunkSize: Int = 1000, checksum: StoredChecksum? = nil) -> UploadBody {
        var buffers: [ByteBuffer] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + chunkSize, bytes.count)
            buffers.append(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        let md5 = md5Hex(bytes)
        return UploadBody(chunks: ByteStream.buffers(buffers), facts: UploadFacts(length: Int64(bytes.count))) {
            UploadDigest(md5Hex: md5, checksum: checksum)
        }
    }

    static func of(_ text: String) -> UploadBody { of(Array(text.utf8)) }

    /// Yields `bytes`, then throws. `declaredLength`, when given, is the length the body
    /// claims up front (a client's `Content-Length`).
    static func failingMidway(after bytes: [UInt8], declaredLength: Int64? = nil) -> UploadBody {
        let stream = ByteStream {
            var sent = false
            return ByteStream.Iterator {
                if sent { throw TestFailure("connection reset") }
                sent = true
                return ByteBuffer(bytes: bytes)
            }
        }
        return UploadBody(chunks: stream, facts: UploadFacts(length: declaredLength)) {
            UploadDigest(md5Hex: md5Hex(bytes), checksum: nil)
        }
    }

    /// Yields every byte (their length declared), then fails verification.
    static func failingFinish(_ bytes: [UInt8]) -> UploadBody {
        UploadBody(chunks: ByteStream.buffers([ByteBuffer(bytes: bytes)]), facts: UploadFacts(length: Int64(bytes.count))) {
            throw TestFailure("BadDigest")
        }
    }
}

/// Deterministic bytes.
func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ $0 >> 8) }
}

/// Everything a stream yields.
func collect(_ stream: ByteStream) async throws -> [UInt8] {
    var out: [UInt8] = []
    for try await buffer in stream { out += buffer.readableBytesView }
    return out
}

/// The whole current version of a key.
func contents(_ store: any ObjectStore, _ key: String, bucket: String = "b", range: Range<Int64>? = nil) async throws -> [UInt8] {
    try await collect(store.openObject(bucket: bucket, key: key).read(range: range))
}

@discardableResult
func put(
    _ store: any ObjectStore, _ key: String, _ bytes: [UInt8], bucket: String = "b",
    precondition: WritePrecondition = .none
) async throws -> ObjectInfo {
    try await store.putObject(
        bucket: bucket, key: key, attributes: ObjectAttributes(), precondition: precondition, origin: .client,
        body: TestBody.of(bytes)
    )
}

/// The code of a thrown ``StorageError``, or nil when nothing (or something else) was thrown.
func storageErrorCode(_ body: () async throws -> Void) async -> StorageError.Code? {
    do {
        try await body()
        return nil
    } catch let error as StorageError {
        return error.code
    } catch {
        return nil
    }
}

/// Hex MD5 of `bytes`, as stores record it in ETags.
func md5Hex(_ bytes: some Sequence<UInt8>) -> String { MD5Hasher.hex(MD5Hasher.digest(bytes)) }
