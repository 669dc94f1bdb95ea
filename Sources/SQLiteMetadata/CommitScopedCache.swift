import CSQLiteShim
import Foundation
import GRDBSQLite
import Synchronization

/// What a WAL-mode database's last commit was, as the header of its WAL index (the `-shm`
/// file beside it) records it: two tokens read at different times are equal only if no commit
/// came between them.
///
/// SQLite rewrites that header at every commit, by any connection of any process (the commit
/// counter, the WAL's last frame, its checksums), and when the WAL starts over (new salts).
/// SQLite's own readers make this test to keep their page caches across transactions. The
/// layout is SQLite's documented file format (sqlite.org/walformat.html, "the wal-index
/// header"): two copies of a 48-byte header at the start of the file, written second copy
/// first; a reader that finds them equal has read a header no commit was writing.
struct WALChangeToken: Equatable, Sendable {
    /// The header's 48 bytes.
    fileprivate let words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    static func == (a: Self, b: Self) -> Bool {
        a.words == b.words
    }
}

/// Reads the WAL index header of one database: from SQLite's own mapping of the index, which a
/// read-only connection kept here holds open (a read then costs no system call: the `pread` it
/// replaced was about 2% of a small GET's CPU, bench/PROFILE.md, session 17), or with `pread` on
/// a descriptor of its own where SQLite maps none.
///
/// The descriptor names the file as long as this process keeps a connection to the database
/// open: SQLite removes the file only when the last connection anywhere closes, and the
/// gateway's ``SQLiteDatabase`` keeps its writer and its checkpointer's connection open for
/// its whole life (and the point reader that holds this, with it). The mapping lasts as long as
/// this object's own connection.
///
/// Unchecked `Sendable`: the connection is used only when this is made and when it ends; the
/// mapped header is only read, with the barrier SQLite's readers use, and a read that raced a
/// commit finds its two copies unequal.
final class WALIndexHeader: @unchecked Sendable {
    /// The two header copies.
    static let length = 96
    private let descriptor: Int32
    /// The read-only connection that keeps `mapped` mapped; nil where nothing is mapped.
    private let connection: OpaquePointer?
    /// The first region of the WAL index, as SQLite maps it.
    private let mapped: UnsafeRawPointer?

    /// Whether the header is read from SQLite's mapping (else with `pread`).
    var isMapped: Bool { mapped != nil }

    /// Opens the WAL index of the database at `databasePath`; nil when there is none (the
    /// database is not in WAL mode, or not open anywhere).
    init?(databasePath: String) {
        let descriptor = open(databasePath + "-shm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        (connection, mapped) = Self.mapIndex(databasePath)
    }

    deinit {
        if let connection { sqlite3_close_v2(connection) }
        close(descriptor)
    }

    /// A read-only connection to the database at `path` and the first region of its WAL
    /// index; nils when the database cannot be opened so, or SQLite maps no index for it.
    private static func mapIndex(_ path: String) -> (OpaquePointer?, UnsafeRawPointer?) {
        var connection: OpaquePointer?
        guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
              let connection
        else {
            sqlite3_close_v2(connection)
            return (nil, nil)
        }
        // A read opens the WAL index on this connection; it stays open until the connection closes.
        guard sqlite3_exec(connection, "SELECT count(*) FROM sqlite_schema", nil, nil, nil) == SQLITE_OK,
              let region = mg_sqlite_wal_index(connection)
        else {
            sqlite3_close_v2(connection)
            return (nil, nil)
        }
        return (connection, region)
    }

    /// The current token, or nil when the header is not settled: its copies differ (a commit
    /// is writing it), it is not initialized yet, or the file is shorter than the header.
    func current() -> WALChangeToken? {
        guard let mapped else { return fromFile() }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.length / 8) { buffer in
            mg_sqlite_wal_header(mapped, buffer.baseAddress)
            return Self.token(buffer)
        }
    }

    /// ``current()`` read with `pread` from the file, whether or not the header is mapped.
    func fromFile() -> WALChangeToken? {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.length / 8) { buffer in
            guard pread(descriptor, buffer.baseAddress, Self.length, 0) == Self.length else { return nil }
            return Self.token(buffer)
        }
    }

    /// The token of the two header copies in `buffer`, if settled.
    private static func token(_ buffer: UnsafeMutableBufferPointer<UInt64>) -> WALChangeToken? {
        let half = length / 16  // 6 words
        for index in 0..<half where buffer[index] != buffer[index + half] { return nil }
        // isInit is the byte at offset 12 (native byte order, as SQLite writes it).
        let isInit = UnsafeRawBufferPointer(buffer).load(fromByteOffset: 12, as: UInt8.self)
        guard isInit != 0 else { return nil }
        return WALChangeToken(words: (buffer[0], buffer[1], buffer[2], buffer[3], buffer[4], buffer[5]))
    }
}

/// Values read from a database, each kept with the ``WALChangeToken`` read before it was read,
/// and handed out only while the token is still current: the first commit after makes every
/// entry a miss (they are dropped when the next value is kept).
///
/// For reads on the request path (an object's record, the policy generation) that would
/// otherwise take a read transaction, with its locks, each time. Bounded in entries and in
/// cost (the bytes a value holds): a value that does not fit empties the cache first.
final class CommitScopedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entries {
        var token: WALChangeToken?
        var values: [Key: (value: Value, cost: Int)] = [:]
        var cost = 0
        var hits = 0
    }

    private let entries = Mutex(Entries())
    private let maxEntries: Int
    private let maxCost: Int

    init(maxEntries: Int, maxCost: Int) {
        self.maxEntries = maxEntries
        self.maxCost = maxCost
    }

    /// Lookups answered from the cache so far (for tests).
    var hits: Int { entries.withLock { $0.hits } }

    /// `key`'s value: kept if kept at `token`, else read by `read` and kept (unless nil) at
    /// `token`. Without a token nothing is kept.
    /// - Parameters:
    ///   - token: the token read before `read` runs; `read` must see every commit before it.
    ///   - cost: what a value holds, counted against the cache's bound.
    func value(
        for key: Key, at token: WALChangeToken?, cost: (Value) -> Int, read: () throws -> Value?
    ) rethrows -> Value? {
        guard let token else { return try read() }
        if let found = kept(key, at: token) { return found }
        guard let value = try read() else { return nil }
        keep(value, cost: cost(value), for: key, at: token)
        return value
    }

    /// `key`'s value if kept at `token`.
    func kept(_ key: Key, at token: WALChangeToken) -> Value? {
        entries.withLock { entries in
            guard entries.token == token, let found = entries.values[key] else { return nil }
            entries.hits += 1
            return found.value
        }
    }

    /// Keeps `value`, read in a snapshot that includes every commit before `token` was read.
    /// Kept at a token that is no longer current, it is never handed out: a later lookup
    /// compares the token current then.
    func keep(_ value: Value, cost: Int, for key: Key, at token: WALChangeToken) {
        guard cost <= maxCost else { return }
        entries.withLock { entries in
            if entries.token != token { entries = Entries(token: token, hits: entries.hits) }
            if let old = entries.values.removeValue(forKey: key) { entries.cost -= old.cost }
            if entries.values.count >= maxEntries || entries.cost + cost > maxCost {
                entries.values.removeAll(keepingCapacity: true)
                entries.cost = 0
            }
            entries.values[key] = (value, cost)
            entries.cost += cost
        }
    }
}
