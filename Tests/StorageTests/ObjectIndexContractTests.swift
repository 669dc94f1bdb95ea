import Dispatch
import Foundation
import NIOCore
import PostgresTestSupport
import PostgresMetadata
import SQLiteMetadata
import Synchronization
import Testing

@testable import Storage

/// The ``ObjectIndex`` contract below the stores: which blobs each transaction frees, on SQLite
/// and on a real PostgreSQL server (``PostgresTestServer``, a database of its own per test).
@Suite("ObjectIndex contract")
struct ObjectIndexContractTests {
    enum IndexKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqlite
        case postgres
        var testDescription: String { rawValue }
    }

    /// A fresh index with bucket "b", and a clean-up to `defer`.
    static func make(_ kind: IndexKind) async throws -> (index: any ObjectIndex, cleanUp: @Sendable () -> Void) {
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-index-\(UUID().uuidString)")
            // The directory does not exist yet: opening creates it.
            let index = try SQLiteObjectIndex(path: directory.appendingPathComponent("meta/i.db").path)
            try await index.createBucket("b", creationDate: StorageClock.now())
            return (index, { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
            let pool = Task { await database.run() }
            do {
                let index = try await PostgresObjectIndex(database: database)
                try await index.createBucket("b", creationDate: StorageClock.now())
                return (index, { pool.cancel() })
            } catch {
                pool.cancel()
                throw error
            }
        }
    }

    static func record(_ key: String, parts sizes: [Int64], etag: String = "e") -> ObjectRecord {
        let parts = sizes.enumerated().map { ObjectPart(number: $0.offset + 1, size: $0.element, etag: "\($0.offset)") }
        return ObjectRecord(
            info: ObjectInfo(
                bucket: "b", key: key, size: sizes.reduce(0, +), etag: etag, lastModified: StorageClock.now(),
                attributes: ObjectAttributes(contentType: "text/plain", userMetadata: ["a": "1"]),
                checksum: StoredChecksum(algorithm: "SHA256", value: "x"), parts: parts, isMultipart: sizes.count > 1,
                origin: .derived(sourceETag: "src")
            ),
            blobs: sizes.map { _ in BlobID.random() }
        )
    }

    @Test(arguments: IndexKind.allCases)
    func commitsReturnWhatTheyFree(kind: IndexKind) async throws {
        let (index, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let v1 = Self.record("k", parts: [10, 20, 0])
        #expect(try await index.commitObject(v1, precondition: .ifAbsent) == [])
        #expect(try await index.object(bucket: "b", key: "k") == v1)
        let v2 = Self.record("k", parts: [5], etag: "f")
        await #expect(throws: StorageError(.preconditionFailed, "k")) {
            _ = try await index.commitObject(v2, precondition: .ifMatch(etag: "zzz"))
        }
        #expect(try await index.commitObject(v2, precondition: .ifMatch(etag: "e")) == v1.blobs)
        #expect(try await index.referencedBlobs(among: v1.blobs + v2.blobs) == Set(v2.blobs))
        #expect(try await index.deleteObject(bucket: "b", key: "k", precondition: .none) == v2)
        #expect(try await index.referencedBlobs(among: v2.blobs) == [])
        await #expect(throws: StorageError(.noSuchBucket, "nope")) {
            _ = try await index.commitObject(ObjectRecord(info: ObjectInfo(
                bucket: "nope", key: "k", size: 0, etag: "", lastModified: Date(), attributes: .init(), checksum: nil,
                parts: [], isMultipart: false, origin: .client
            ), blobs: []), precondition: .none)
        }
    }

    /// A small object's bytes are kept in its record and read back with it, and their id is
    /// never reported as a freed or referenced blob, whichever way the key changes.
    @Test(arguments: IndexKind.allCases)
    func inlineDataIsKept(kind: IndexKind) async throws {
        let (index, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        var inline = Self.record("k", parts: [5])
        inline.inlineData = ByteBuffer(bytes: [1, 2, 3, 4, 5])
        #expect(try await index.commitObject(inline, precondition: .ifAbsent) == [])
        #expect(try await index.object(bucket: "b", key: "k") == inline)
        let pair = try await index.objects(bucket: "b", "k", "other")
        #expect(pair.0 == inline && pair.1 == nil)
        let listed = try await index.listObjects(bucket: "b", query: ListQuery())
        #expect(listed.objects.map(\.key) == ["k"])
        let blob = Self.record("k", parts: [7], etag: "f")
        #expect(try await index.commitObject(blob, precondition: .ifMatch(etag: "e")) == [])
        #expect(try await index.referencedBlobs(among: inline.blobs + blob.blobs) == Set(blob.blobs))
        var again = Self.record("k", parts: [3], etag: "g")
        again.inlineData = ByteBuffer(bytes: [9, 9, 9])
        #expect(try await index.commitObject(again, precondition: .none) == blob.blobs)
        #expect(try await index.referencedBlobs(among: again.blobs + blob.blobs) == [])
        #expect(try await index.object(bucket: "b", key: "k")?.inlineData == ByteBuffer(bytes: [9, 9, 9]))
        #expect(try await index.deleteObject(bucket: "b", key: "k", precondition: .none) == again)
        #expect(try await index.object(bucket: "b", key: "k") == nil)
    }

    /// Two records read together equal each read alone, whichever exist.
    @Test(arguments: IndexKind.allCases)
    func twoRecordsReadTogether(kind: IndexKind) async throws {
        let (index, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let multi = Self.record("dir/thumb.jpg", parts: [10, 20, 0])
        let single = Self.record("dir/original.jpg", parts: [7], etag: "src")
        _ = try await index.commitObject(multi, precondition: .none)
        _ = try await index.commitObject(single, precondition: .none)
        let both = try await index.objects(bucket: "b", "dir/thumb.jpg", "dir/original.jpg")
        #expect(both.0 == multi)
        #expect(both.1 == single)
        let swapped = try await index.objects(bucket: "b", "dir/original.jpg", "dir/thumb.jpg")
        #expect(swapped.0 == single && swapped.1 == multi)
        let oneMissing = try await index.objects(bucket: "b", "dir/none.jpg", "dir/original.jpg")
        #expect(oneMissing.0 == nil && oneMissing.1 == single)
        let same = try await index.objects(bucket: "b", "dir/thumb.jpg", "dir/thumb.jpg")
        #expect(same.0 == multi && same.1 == multi)
        let neither = try await index.objects(bucket: "b", "x", "y")
        #expect(neither.0 == nil && neither.1 == nil)
        await #expect(throws: StorageError(.noSuchBucket, "nope")) {
            _ = try await index.objects(bucket: "nope", "x", "y")
        }
    }

    /// Many commits at once (the SQLite index commits waiting ones together, each in its own
    /// savepoint): each gets its own outcome, and a failed one takes no other down with it.
    @Test(arguments: IndexKind.allCases)
    func concurrentCommitsEachGetTheirOwnOutcome(kind: IndexKind) async throws {
        let (index, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let first = Self.record("taken", parts: [1], etag: "first")
        #expect(try await index.commitObject(first, precondition: .ifAbsent) == [])
        let outcomes = try await withThrowingTaskGroup(of: (Int, StorageError.Code?).self) { group in
            for writer in 0..<48 {
                group.addTask {
                    var record = Self.record("k\(writer)", parts: [Int64(writer)], etag: "e\(writer)")
                    let precondition: WritePrecondition
                    switch writer % 3 {
                    case 0: precondition = .none
                    case 1:
                        // Fails: the key exists.
                        record.info.key = "taken"
                        precondition = .ifAbsent
                    default:
                        // Fails: no such bucket.
                        record.info.bucket = "nope"
                        precondition = .none
                    }
                    do {
                        _ = try await index.commitObject(record, precondition: precondition)
                        return (writer, nil)
                    } catch let error as StorageError {
                        return (writer, error.code)
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for writer in 0..<48 {
            let expected: StorageError.Code? = [nil, .preconditionFailed, .noSuchBucket][writer % 3]
            #expect(outcomes[writer] == expected, "writer \(writer)")
            let stored = try await index.object(bucket: "b", key: "k\(writer)")
            #expect((stored != nil) == (writer % 3 == 0), "writer \(writer)")
            if writer % 3 == 0 { #expect(stored?.info.etag == "e\(writer)") }
        }
        #expect(try await index.object(bucket: "b", key: "taken")?.info.etag == "first")
    }

    /// The SQLite index's commits through a callback (PUTs answered on the event loop), some
    /// run on the caller's thread when no transaction is running, mixed with async ones: each
    /// ends exactly once with its own outcome, and every one that succeeded is stored.
    @Test(.timeLimit(.minutes(1))) func callbackCommitsEndOnceEachAmongAsyncOnes() async throws {
        let (made, cleanUp) = try await Self.make(.sqlite)
        defer { cleanUp() }
        let index = try #require(made as? SQLiteObjectIndex)
        let ended = Reports()
        let writers = 96
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var record = Self.record("c\(writer)", parts: [1], etag: "e\(writer)")
                    if writer % 4 == 3 { record.info.bucket = "nope" }
                    if writer % 3 == 2 {
                        let outcome: StorageError.Code?
                        do {
                            _ = try await index.commitObject(record, precondition: .none)
                            outcome = nil
                        } catch {
                            outcome = Reports.code(error)
                        }
                        _ = ended.add(outcome, for: writer)
                        return
                    }
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        index.commitObject(record, precondition: .none, mayRunHere: writer % 3 == 0) { result in
                            let outcome: StorageError.Code? = switch result {
                            case .success: nil
                            case .failure(let error): Reports.code(error)
                            }
                            if ended.add(outcome, for: writer) == 1 { continuation.resume() }
                        }
                    }
                }
            }
        }
        // Time for a second report of any commit, which would be a failure.
        try await Task.sleep(for: .milliseconds(100))
        let reports = ended.all
        for writer in 0..<writers {
            let expected: StorageError.Code? = writer % 4 == 3 ? .noSuchBucket : nil
            #expect(reports[writer] == [expected], "writer \(writer)")
            let stored = try await index.object(bucket: "b", key: "c\(writer)")
            #expect((stored?.info.etag) == (expected == nil ? "e\(writer)" : nil), "writer \(writer)")
        }
    }

    /// A caller that runs a transaction itself (`mayRunHere`) hands the commits that arrived
    /// meanwhile to the group's queue: none of them waits for a next caller.
    @Test func commitsThatArriveDuringACallersOwnAreCommitted() async throws {
        let (made, cleanUp) = try await Self.make(.sqlite)
        defer { cleanUp() }
        let index = try #require(made as? SQLiteObjectIndex)
        let ended = Reports()
        // The writer is held for 300 ms: the first commit takes its batch (itself alone) and
        // waits for the writer; the other three arrive while it waits.
        DispatchQueue.global().async {
            try? index.database.pool.write { _ in Thread.sleep(forTimeInterval: 0.3) }
        }
        for writer in 0..<4 {
            DispatchQueue.global().asyncAfter(deadline: .now() + (writer == 0 ? 0.05 : 0.15)) {
                index.commitObject(Self.record("h\(writer)", parts: [1]), precondition: .none, mayRunHere: true) { result in
                    let outcome: StorageError.Code? = switch result {
                    case .success: nil
                    case .failure(let error): Reports.code(error)
                    }
                    _ = ended.add(outcome, for: writer)
                }
            }
        }
        // Waits for the four reports, 20 seconds at most.
        for _ in 0..<2000 where ended.all.count < 4 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let reports = ended.all
        for writer in 0..<4 {
            #expect(reports[writer] == [nil], "writer \(writer)")
            #expect(try await index.object(bucket: "b", key: "h\(writer)") != nil, "writer \(writer)")
        }
    }

    /// Each commit's outcomes as reported, by writer.
    final class Reports: Sendable {
        private let state = Mutex<[Int: [StorageError.Code?]]>([:])

        /// Adds one report; returns how many the writer has now.
        func add(_ outcome: StorageError.Code?, for writer: Int) -> Int {
            state.withLock { state in
                state[writer, default: []].append(outcome)
                return state[writer]!.count
            }
        }

        var all: [Int: [StorageError.Code?]] { state.withLock { $0 } }

        static func code(_ error: any Error) -> StorageError.Code? { (error as? StorageError)?.code ?? .internalError }
    }

    @Test(arguments: IndexKind.allCases)
    func uploadsReturnWhatTheyFree(kind: IndexKind) async throws {
        let (index, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let old = Self.record("m", parts: [1])
        _ = try await index.commitObject(old, precondition: .none)
        let upload = UploadInfo(key: "m", uploadID: UploadID.make(initiated: StorageClock.now()), initiated: StorageClock.now(), attributes: .init(contentType: "video/mp4"), checksumAlgorithm: nil)
        try await index.createUpload(bucket: "b", upload: upload)
        #expect(try await index.upload(bucket: "b", key: "m", uploadID: upload.uploadID) == upload)
        #expect(try await index.upload(bucket: "b", key: "other", uploadID: upload.uploadID) == nil)
        let blobs = (0..<4).map { _ in BlobID.random() }
        func part(_ number: Int, _ blob: BlobID, size: Int64 = 100) -> PartRecord {
            PartRecord(part: ObjectPart(number: number, size: size, etag: "0\(number)"), blob: blob)
        }
        #expect(try await index.putPart(bucket: "b", key: "m", uploadID: upload.uploadID, part: part(1, blobs[0])) == nil)
        #expect(try await index.putPart(bucket: "b", key: "m", uploadID: upload.uploadID, part: part(1, blobs[1])) == blobs[0])
        _ = try await index.putPart(bucket: "b", key: "m", uploadID: upload.uploadID, part: part(2, blobs[2]))
        _ = try await index.putPart(bucket: "b", key: "m", uploadID: upload.uploadID, part: part(3, blobs[3], size: 1))
        #expect(try await index.referencedBlobs(among: blobs) == Set(blobs[1...]))
        let options = CompletionOptions(minimumPartSize: 50, lastModified: StorageClock.now(), precondition: .none)
        let outcome = try await index.completeUpload(
            bucket: "b", key: "m", uploadID: upload.uploadID,
            parts: [.init(number: 1, etag: "01"), .init(number: 3, etag: "03")], options: options
        )
        #expect(outcome.record.blobs == [blobs[1], blobs[3]])
        #expect(Set(outcome.freedBlobs) == Set(old.blobs + [blobs[2]]))
        #expect(outcome.record.info.attributes.contentType == "video/mp4")
        #expect(try await index.object(bucket: "b", key: "m") == outcome.record)
        await #expect(throws: StorageError(.noSuchUpload, upload.uploadID)) {
            _ = try await index.abortUpload(bucket: "b", key: "m", uploadID: upload.uploadID)
        }
        await #expect(throws: StorageError(.noSuchUpload, upload.uploadID)) {
            _ = try await index.putPart(bucket: "b", key: "m", uploadID: upload.uploadID, part: part(4, BlobID.random()))
        }
        await #expect(throws: StorageError(.bucketNotEmpty, "b")) { try await index.deleteBucket("b") }
    }
}
