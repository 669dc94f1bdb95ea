import Foundation
import PostgresTestSupport
import PostgresMetadata
import PostgresNIO
import Testing

@testable import Storage

/// Two gateway instances writing the same rows through one PostgreSQL database at once: the
/// preconditions hold and every replaced blob is reported exactly once.
@Suite("PostgresObjectIndex across instances")
struct PostgresObjectIndexRaceTests {
    /// Two indexes on one fresh database (with bucket "b"), and their pools to cancel.
    static func twoInstances() async throws -> (indexes: [PostgresObjectIndex], pools: [Task<Void, Never>]) {
        let url = try await PostgresTestServer.shared.makeDatabaseURL()
        let first = try PostgresDatabase(url: url)
        let second = try PostgresDatabase(url: url)
        let pools = [Task { await first.run() }, Task { await second.run() }]
        do {
            // Both migrate at start, concurrently: the advisory lock makes them take turns.
            async let a = PostgresObjectIndex(database: first)
            async let b = PostgresObjectIndex(database: second)
            let (one, two) = try await (a, b)
            let indexes = [one, two]
            try await indexes[0].createBucket("b", creationDate: StorageClock.now())
            return (indexes, pools)
        } catch {
            pools.forEach { $0.cancel() }
            throw error
        }
    }

    /// After the migrations, object_parts has one blob index, and it is partial: parts whose
    /// bytes are kept in the row stay out of it (migration storage-v3, which builds the new index
    /// under a temporary name, drops the old one and renames).
    @Test func blobIndexIsPartial() async throws {
        let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
        let pool = Task { await database.run() }
        defer { pool.cancel() }
        _ = try await PostgresObjectIndex(database: database)
        var definitions: [String: String] = [:]
        let rows = try await database.client.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'object_parts' AND indexdef LIKE '%(blob)%'")
        for try await (name, definition) in rows.decode((String, String).self) { definitions[name] = definition }
        #expect(Array(definitions.keys) == ["object_parts_by_blob"])
        #expect(definitions["object_parts_by_blob"]?.hasSuffix("WHERE (data IS NULL)") == true, "\(definitions)")
    }

    @Test func createOnlyAndIfMatchHaveOneWinner() async throws {
        let (indexes, pools) = try await Self.twoInstances()
        defer { pools.forEach { $0.cancel() } }
        let created = await Self.race(16) { attempt in
            _ = try await indexes[attempt % 2].commitObject(
                ObjectIndexContractTests.record("k", parts: [1], etag: "c\(attempt)"), precondition: .ifAbsent)
        }
        #expect(created.filter { $0 == nil }.count == 1)
        #expect(created.filter { $0 == .preconditionFailed }.count == 15)

        let current = try #require(try await indexes[1].object(bucket: "b", key: "k"))
        let matched = await Self.race(16) { attempt in
            _ = try await indexes[attempt % 2].commitObject(
                ObjectIndexContractTests.record("k", parts: [1], etag: "m\(attempt)"),
                precondition: .ifMatch(etag: current.info.etag))
        }
        #expect(matched.filter { $0 == nil }.count == 1)
        #expect(matched.filter { $0 == .preconditionFailed }.count == 15)
    }

    @Test func concurrentOverwritesFreeEachBlobOnce() async throws {
        let (indexes, pools) = try await Self.twoInstances()
        defer { pools.forEach { $0.cancel() } }
        let records = (0..<16).map { ObjectIndexContractTests.record("k", parts: [1, 2], etag: "v\($0)") }
        let freed = try await withThrowingTaskGroup(of: [BlobID].self) { group in
            for (attempt, record) in records.enumerated() {
                group.addTask { try await indexes[attempt % 2].commitObject(record, precondition: .none) }
            }
            var all: [BlobID] = []
            for try await blobs in group { all += blobs }
            return all
        }
        let final = try #require(try await indexes[0].object(bucket: "b", key: "k"))
        #expect(freed.count == Set(freed).count)
        #expect(Set(freed + final.blobs) == Set(records.flatMap(\.blobs)))
        #expect(freed.count + final.blobs.count == records.count * 2)
        #expect(try await indexes[1].referencedBlobs(among: records.flatMap(\.blobs)) == Set(final.blobs))
    }

    @Test func concurrentPartUploadsFreeEachBlobOnce() async throws {
        let (indexes, pools) = try await Self.twoInstances()
        defer { pools.forEach { $0.cancel() } }
        let now = StorageClock.now()
        let upload = UploadInfo(
            key: "m", uploadID: UploadID.make(initiated: now), initiated: now, attributes: .init(), checksumAlgorithm: nil)
        try await indexes[0].createUpload(bucket: "b", upload: upload)
        let blobs = (0..<16).map { _ in BlobID.random() }
        let replaced = try await withThrowingTaskGroup(of: BlobID?.self) { group in
            for (attempt, blob) in blobs.enumerated() {
                group.addTask {
                    try await indexes[attempt % 2].putPart(
                        bucket: "b", key: "m", uploadID: upload.uploadID,
                        part: PartRecord(part: ObjectPart(number: 1, size: 1, etag: "0\(attempt)"), blob: blob))
                }
            }
            var all: [BlobID] = []
            for try await blob in group { if let blob { all.append(blob) } }
            return all
        }
        #expect(replaced.count == 15)
        #expect(Set(replaced).count == 15)
        let kept = try await indexes[1].referencedBlobs(among: blobs)
        #expect(kept.count == 1)
        #expect(Set(replaced).union(kept) == Set(blobs))
    }

    /// Runs `body(0..<count)` concurrently; the error code of each (nil: success).
    static func race(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async -> [StorageError.Code?] {
        await withTaskGroup(of: StorageError.Code?.self) { group in
            for attempt in 0..<count {
                group.addTask { await storageErrorCode { try await body(attempt) } }
            }
            var codes: [StorageError.Code?] = []
            for await code in group { codes.append(code) }
            return codes
        }
    }
}
