import Foundation
import GRDB
import NIOCore
import Storage
import Testing

@testable import SQLiteMetadata

/// `WALChangeToken` and `CommitScopedCache`: what the request path keeps of the database
/// (records, the policy generation) is answered only while no commit came since it was read,
/// whoever made the commit: this process's writer, another connection, another process.
@Suite("Reads kept until the next commit")
struct CommitScopedCacheTests {
    /// A scratch database with the object index's tables and a bucket `b`.
    private static func withIndex(_ body: (SQLiteObjectIndex, String) async throws -> Void) async throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        let index = try SQLiteObjectIndex(database: SQLiteDatabase(path: path))
        try await index.createBucket("b", creationDate: Date())
        try await body(index, path)
    }

    private static func inline(_ key: String, _ bytes: [UInt8], etag: String) -> ObjectRecord {
        var record = ObjectIndexContractTests.record(key, parts: [Int64(bytes.count)], etag: etag)
        record.inlineData = ByteBuffer(bytes: bytes)
        return record
    }

    /// Runs `sql` in a `python3` process of its own: a commit from another process, as an
    /// admin command's would be.
    private static func commitFromAnotherProcess(_ path: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit(); c.close()",
            path, sql,
        ]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    /// A commit on a connection of this process outside the index's database (a queue of its own).
    private static func commitOnAnotherConnection(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: sql) }
    }

    @Test
    func theTokenMovesWithEveryCommitWhoeverMakesItAndOnlyThen() async throws {
        try await Self.withIndex { index, path in
            let reader = index.database.pointReader
            let start = try #require(reader.changeToken())
            // Reads leave it as it is.
            _ = try index.objectNow(bucket: "b", key: "k")
            _ = try await index.object(bucket: "b", key: "k")
            #expect(reader.changeToken() == start)

            try await index.createBucket("c", creationDate: Date())
            let afterWriter = try #require(reader.changeToken())
            #expect(afterWriter != start)
            try Self.commitOnAnotherConnection(path, "INSERT INTO buckets (name, created_ms) VALUES ('d', 0)")
            let afterConnection = try #require(reader.changeToken())
            #expect(afterConnection != afterWriter)
            try Self.commitFromAnotherProcess(path, "INSERT INTO buckets (name, created_ms) VALUES ('e', 0)")
            let afterProcess = try #require(reader.changeToken())
            #expect(afterProcess != afterConnection)
            #expect(reader.changeToken() == afterProcess)
        }
    }

    /// In a database the gateway opens, the header is read from SQLite's own mapping, and that
    /// reads what the file holds, after a commit of every kind.
    @Test
    func theMappedHeaderReadsWhatTheFileHolds() async throws {
        try await Self.withIndex { index, path in
            let header = try #require(WALIndexHeader(databasePath: path))
            #expect(header.isMapped)
            var tokens: [WALChangeToken] = []
            func read() throws {
                let mapped = try #require(header.current())
                #expect(mapped == header.fromFile())
                tokens.append(mapped)
            }
            try read()
            try await index.createBucket("c", creationDate: Date())
            try read()
            try Self.commitOnAnotherConnection(path, "INSERT INTO buckets (name, created_ms) VALUES ('d', 0)")
            try read()
            try Self.commitFromAnotherProcess(path, "INSERT INTO buckets (name, created_ms) VALUES ('e', 0)")
            try read()
            for (position, token) in tokens.enumerated() {
                #expect(!tokens[(position + 1)...].contains(token), "token \(position) seen again")
            }
        }
    }

    @Test
    func aRecordIsKeptUntilTheNextCommit() async throws {
        try await Self.withIndex { index, path in
            let v1 = Self.inline("k", [1, 2, 3], etag: "v1")
            _ = try await index.commitObject(v1, precondition: .none)
            #expect(try index.objectNow(bucket: "b", key: "k") == v1)
            let hits = index.records.hits
            #expect(try index.objectNow(bucket: "b", key: "k") == v1)
            #expect(index.records.hits == hits + 1)

            // A new version through the index.
            let v2 = Self.inline("k", [4, 5], etag: "v2")
            _ = try await index.commitObject(v2, precondition: .none)
            #expect(try index.objectNow(bucket: "b", key: "k") == v2)
            #expect(try await index.object(bucket: "b", key: "k") == v2)

            // A commit that touches another key also ends what was kept.
            _ = try await index.commitObject(Self.inline("other", [9], etag: "o"), precondition: .none)
            let before = index.records.hits
            #expect(try index.objectNow(bucket: "b", key: "k") == v2)
            #expect(index.records.hits == before)

            // Changes made with plain SQL, from another connection and from another process.
            try Self.commitOnAnotherConnection(path, "UPDATE objects SET etag = 'v3' WHERE bucket = 'b' AND key = CAST('k' AS BLOB)")
            #expect(try index.objectNow(bucket: "b", key: "k")?.info.etag == "v3")
            try Self.commitFromAnotherProcess(path, "DELETE FROM objects WHERE bucket = 'b' AND key = CAST('k' AS BLOB)")
            #expect(try index.objectNow(bucket: "b", key: "k") == nil)
            #expect(try await index.object(bucket: "b", key: "k") == nil)
        }
    }

    @Test
    func twoRecordsAreKeptAndEndedTogether() async throws {
        try await Self.withIndex { index, path in
            let a = Self.inline("a", [1], etag: "a1")
            let b = Self.inline("b", [2], etag: "b1")
            _ = try await index.commitObject(a, precondition: .none)
            _ = try await index.commitObject(b, precondition: .none)
            let first = try index.objectsNow(bucket: "b", "a", "b")
            #expect(first.0 == a && first.1 == b)
            let hits = index.records.hits
            let second = try index.objectsNow(bucket: "b", "a", "b")
            #expect(second.0 == a && second.1 == b)
            #expect(index.records.hits == hits + 2)
            try Self.commitOnAnotherConnection(path, "UPDATE objects SET etag = 'b2' WHERE bucket = 'b' AND key = CAST('b' AS BLOB)")
            let third = try index.objectsNow(bucket: "b", "a", "b")
            #expect(third.0 == a && third.1?.info.etag == "b2")
        }
    }

    /// Inside one snapshot every kept answer is of the state when it began, and a statement
    /// after a commit in between still reads that snapshot's state or a later one.
    @Test
    func aSnapshotAnswersFromTheTokenItBeganWith() async throws {
        try await Self.withIndex { index, path in
            let v1 = Self.inline("k", [1], etag: "v1")
            _ = try await index.commitObject(v1, precondition: .none)
            _ = try index.objectNow(bucket: "b", key: "k")
            let seen = try index.inOneSnapshot { () throws -> [String?] in
                let kept = try index.objectNow(bucket: "b", key: "k")?.info.etag
                try Self.commitOnAnotherConnection(path, "UPDATE objects SET etag = 'v2' WHERE bucket = 'b' AND key = CAST('k' AS BLOB)")
                let again = try index.objectNow(bucket: "b", key: "k")?.info.etag
                return [kept, again]
            }
            // The commit came after the snapshot began: both answers are of its start.
            #expect(seen == ["v1", "v1"])
            #expect(try index.objectNow(bucket: "b", key: "k")?.info.etag == "v2")
        }
    }

    @Test
    func theCacheStaysWithinItsBounds() {
        let token = Self.token(byte: 1)
        let cache = CommitScopedCache<Int, Int>(maxEntries: 3, maxCost: 10)
        for key in 0..<3 { _ = cache.value(for: key, at: token, cost: { _ in 2 }) { key } }
        #expect(cache.kept(2, at: token) == 2)
        // A fourth entry does not fit: the cache is emptied first.
        _ = cache.value(for: 3, at: token, cost: { _ in 2 }) { 3 }
        #expect(cache.kept(0, at: token) == nil)
        #expect(cache.kept(3, at: token) == 3)
        // Neither does more cost than the bound allows; a value costing more than it is not kept.
        _ = cache.value(for: 4, at: token, cost: { _ in 9 }) { 4 }
        #expect(cache.kept(3, at: token) == nil)
        #expect(cache.kept(4, at: token) == 4)
        _ = cache.value(for: 5, at: token, cost: { _ in 11 }) { 5 }
        #expect(cache.kept(5, at: token) == nil)
        #expect(cache.kept(4, at: token) == 4)
        // Kept at one token, nothing is answered at another; without a token nothing is kept.
        #expect(cache.kept(4, at: Self.token(byte: 2)) == nil)
        var reads = 0
        for _ in 0..<2 { _ = cache.value(for: 6, at: nil, cost: { _ in 0 }) { reads += 1; return 6 } }
        #expect(reads == 2)
    }

    /// The header is read only when settled: both copies equal and initialized.
    @Test
    func aHeaderIsReadOnlyWhenSettled() throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        #expect(WALIndexHeader(databasePath: path) == nil)
        func write(_ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path + "-shm")) }
        var copy = [UInt8](repeating: 7, count: 48)
        copy[12] = 1  // isInit
        try write(copy + copy + [UInt8](repeating: 0, count: 32))
        let header = try #require(WALIndexHeader(databasePath: path))
        let first = try #require(header.current())
        #expect(header.current() == first)
        var moved = copy
        moved[16] = 8  // mxFrame
        try write(moved + moved)
        #expect(header.current() != nil && header.current() != first)
        try write(moved + copy)
        #expect(header.current() == nil)
        var uninitialized = copy
        uninitialized[12] = 0
        try write(uninitialized + uninitialized)
        #expect(header.current() == nil)
        try write(copy)
        #expect(header.current() == nil)
    }

    /// A token for the cache's own tests: a header file of `byte`s.
    private static func token(byte: UInt8) -> WALChangeToken {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-token-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("m.db").path
        var copy = [UInt8](repeating: byte, count: 48)
        copy[12] = 1
        try? Data(copy + copy).write(to: URL(fileURLWithPath: path + "-shm"))
        return WALIndexHeader(databasePath: path)!.current()!
    }
}
