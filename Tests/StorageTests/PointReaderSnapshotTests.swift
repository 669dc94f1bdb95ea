import Foundation
import GRDB
import Synchronization
import Testing

@testable import SQLiteMetadata

/// `SQLitePointReader.inOneSnapshot`: the point reads of a GET (its key's generation, the
/// tenants' and the object) share one read transaction, which ends with the call.
@Suite("SQLite point reads in one snapshot")
struct PointReaderSnapshotTests {
    private static let generation = "SELECT value FROM policy_generation WHERE id = 1"

    /// Runs `body` on a scratch database with the policy store's tables (its generation
    /// counter) and its point reader, then removes the database.
    private static func withDatabase(_ body: (SQLiteDatabase, SQLitePointReader) throws -> Void) throws {
        let (path, cleanUp) = try DiskStoreTests.scratchDatabase()
        defer { cleanUp() }
        let database = try SQLiteDatabase(path: path)
        _ = try SQLitePolicyStore(database: database)
        try body(database, database.pointReader)
    }

    private static func raiseGeneration(_ database: SQLiteDatabase) throws {
        try database.pool.write { db in try db.execute(sql: "UPDATE policy_generation SET value = value + 1 WHERE id = 1") }
    }

    /// Whether a checkpoint could copy the whole WAL back and truncate it: not while any
    /// connection still reads an older snapshot.
    private static func walFullyCheckpointed(_ database: SQLiteDatabase) throws -> Bool {
        try database.pool.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            return row.map { ($0[0] as Int) == 0 } ?? false
        }
    }

    @Test
    func readsInsideSeeOneSnapshotAndReadsAfterSeeNewCommits() throws {
        try Self.withDatabase { database, reader in
            let start = try #require(try reader.integer(Self.generation))

            // Outside a snapshot each read sees the latest commit.
            try Self.raiseGeneration(database)
            #expect(try reader.integer(Self.generation) == start + 1)

            let seen = try reader.inOneSnapshot { () throws -> [Int64?] in
                let first = try reader.integer(Self.generation)
                try Self.raiseGeneration(database)
                let second = try reader.integer(Self.generation)
                let nested = try reader.inOneSnapshot { try reader.integer(Self.generation) }
                return [first, second, nested]
            }
            #expect(seen == [start + 1, start + 1, start + 1])
            #expect(try reader.integer(Self.generation) == start + 2)
            // The snapshot ended with the call: nothing holds the WAL back.
            #expect(try Self.walFullyCheckpointed(database))
        }
    }

    @Test
    func aSnapshotEndsWhenItsBodyThrows() throws {
        struct Stop: Error {}
        try Self.withDatabase { database, reader in
            #expect(throws: Stop.self) {
                try reader.inOneSnapshot {
                    _ = try reader.integer(Self.generation)
                    throw Stop()
                }
            }
            try Self.raiseGeneration(database)
            let start = try #require(try reader.integer(Self.generation))
            try Self.raiseGeneration(database)
            #expect(try reader.integer(Self.generation) == start + 1)
            #expect(try Self.walFullyCheckpointed(database))
        }
    }

    /// Another thread's reads are not drawn into a snapshot this thread holds.
    @Test
    func aSnapshotIsTheCallingThreadsOnly() throws {
        try Self.withDatabase { database, reader in
            let start = try #require(try reader.integer(Self.generation))
            let other = try reader.inOneSnapshot { () throws -> Int64? in
                _ = try reader.integer(Self.generation)
                try Self.raiseGeneration(database)
                let result = Mutex<Int64?>(nil)
                let done = DispatchSemaphore(value: 0)
                Thread {
                    result.withLock { $0 = try? reader.integer(Self.generation) }
                    done.signal()
                }.start()
                done.wait()
                return result.withLock { $0 }
            }
            #expect(other == start + 1)
        }
    }
}
