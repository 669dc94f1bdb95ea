import Foundation
import GRDB
import Policy
import PolicyStore
import Storage
import Synchronization

/// The ``PolicyStore`` in SQLite, in the same file as the object index (migrations `policy-*`).
///
/// Every call is one transaction on the shared pool. WAL readers see every commit made before
/// they start, by this process or another (admin commands), so a revoked consent or a removed
/// tenant applies to the next request.
///
/// Tenants and access keys are read on every request, so they are kept in memory together with
/// the value of `policy_generation`, a counter that triggers raise on every change to either
/// table (by any process). A request reads only that counter (one cached statement, on the
/// calling thread), or not even that while no commit came since it was read (the database's
/// ``WALChangeToken``), and rereads the tables when it moved.
public struct SQLitePolicyStore: PolicyStore, ImmediatePolicyReads {
    /// The shared database.
    public let database: SQLiteDatabase
    private let cache = PolicyCache()
    /// `policy_generation`, kept until the next commit of the database.
    private let generations = CommitScopedCache<Int, Int64>(maxEntries: 1, maxCost: 0)

    /// Opens the store on `database`, creating or upgrading its tables.
    /// - Throws: `DatabaseError` when a migration fails.
    public init(database: SQLiteDatabase) throws {
        self.database = database
        try Self.migrator.migrate(database.pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("policy-v1") { db in
            try db.execute(sql: """
                CREATE TABLE tenants (
                    name TEXT NOT NULL PRIMARY KEY,
                    prefix BLOB NOT NULL UNIQUE,
                    buckets TEXT NOT NULL,
                    created_ms INTEGER NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE access_keys (
                    access_key_id TEXT NOT NULL PRIMARY KEY,
                    secret TEXT NOT NULL,
                    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
                    created_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX access_keys_by_tenant ON access_keys (tenant);

                CREATE TABLE consents (
                    tenant TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    until_ms INTEGER,
                    granted_ms INTEGER NOT NULL,
                    PRIMARY KEY (tenant, subject, purpose)
                ) WITHOUT ROWID;

                CREATE TABLE share_links (
                    token_hash TEXT NOT NULL PRIMARY KEY,
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    creator_tenant TEXT,
                    expires_ms INTEGER NOT NULL,
                    created_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("policy-v2-generation") { db in
            var sql = """
                CREATE TABLE policy_generation (
                    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
                    value INTEGER NOT NULL
                );
                INSERT INTO policy_generation (id, value) VALUES (1, 0);
                """
            for table in ["tenants", "access_keys"] {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    sql += """
                        CREATE TRIGGER \(table)_\(event.lowercased())_generation AFTER \(event) ON \(table)
                        BEGIN UPDATE policy_generation SET value = value + 1 WHERE id = 1; END;
                        """
                }
            }
            try db.execute(sql: sql)
        }
        return migrator
    }

    // MARK: Tenants

    public func addTenant(_ tenant: TenantRecord, key: AccessKeyRecord) async throws {
        let buckets = try Self.encodeBuckets(tenant.buckets)
        try await database.pool.write { db in
            let existing = try Self.fetchTenants(db)
            try Self.checkNewTenant(tenant, against: existing)
            try db.execute(
                sql: "INSERT INTO tenants (name, prefix, buckets, created_ms) VALUES (?, ?, ?, ?)",
                arguments: [tenant.name, Data(tenant.prefix.utf8), buckets, Self.milliseconds(tenant.createdAt)])
            try Self.insertKey(db, key)
        }
    }

    public func tenants() async throws -> [TenantRecord] {
        let generation = try currentGeneration()
        if let tenants = cache.tenants(at: generation) { return tenants }
        let (current, tenants) = try await database.pool.read { db in
            (try Self.generation(db), try Self.fetchTenants(db))
        }
        cache.store(tenants: tenants, at: current)
        return tenants
    }

    public func removeTenant(named name: String) async throws -> Bool {
        try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM access_keys WHERE tenant = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM tenants WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    public func replaceKeys(ofTenant name: String, with key: AccessKeyRecord) async throws {
        try await database.pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tenants WHERE name = ?", arguments: [name]) != nil else {
                throw PolicyStoreError(.noSuchTenant, "no tenant named \(name)")
            }
            try db.execute(sql: "DELETE FROM access_keys WHERE tenant = ?", arguments: [name])
            try Self.insertKey(db, key)
        }
    }

    public func accessKeyIDs(ofTenant name: String) async throws -> [String] {
        try await database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT access_key_id FROM access_keys WHERE tenant = ? ORDER BY access_key_id", arguments: [name])
        }
    }

    public func accessKey(id: String) async throws -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        let generation = try currentGeneration()
        if let found = cache.key(id, at: generation) { return found }
        let (current, found) = try await database.pool.read { db -> (Int64, (key: AccessKeyRecord, tenant: TenantRecord)?) in
            (try Self.generation(db), try Self.fetchKey(db, id: id))
        }
        // Unknown ids are not remembered: anyone can send any number of them.
        if let found { cache.store(key: found, id: id, at: current) }
        return found
    }

    private static func fetchKey(_ db: Database, id: String) throws -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT k.access_key_id, k.secret, k.tenant, k.created_ms AS key_ms,
                   t.name, t.prefix, t.buckets, t.created_ms
            FROM access_keys k JOIN tenants t ON t.name = k.tenant
            WHERE k.access_key_id = ?
            """, arguments: [id])
        else { return nil }
        let key = AccessKeyRecord(
            accessKeyID: row["access_key_id"], secretAccessKey: row["secret"], tenant: row["tenant"],
            createdAt: Self.date(row["key_ms"]))
        return (key, try Self.tenant(row))
    }

    // MARK: Consents

    public func grantConsent(_ key: ConsentKey, until: Date?, at now: Date) async throws {
        try await database.pool.write { db in
            try db.execute(sql: """
                INSERT INTO consents (tenant, subject, purpose, until_ms, granted_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant, subject, purpose) DO UPDATE SET until_ms = excluded.until_ms, granted_ms = excluded.granted_ms
                """, arguments: [key.tenant ?? "", key.subject, key.purpose, until.map(Self.milliseconds), Self.milliseconds(now)])
        }
    }

    public func revokeConsent(_ key: ConsentKey) async throws -> Bool {
        try await database.pool.write { db in
            try db.execute(
                sql: "DELETE FROM consents WHERE tenant = ? AND subject = ? AND purpose = ?",
                arguments: [key.tenant ?? "", key.subject, key.purpose])
            return db.changesCount > 0
        }
    }

    public func consents(_ keys: [ConsentKey]) async throws -> [ConsentKey: ConsentTerm] {
        if keys.isEmpty { return [:] }
        return try await database.pool.read { db in
            var found: [ConsentKey: ConsentTerm] = [:]
            for key in Set(keys) {
                let row = try Row.fetchOne(
                    db, sql: "SELECT until_ms FROM consents WHERE tenant = ? AND subject = ? AND purpose = ?",
                    arguments: [key.tenant ?? "", key.subject, key.purpose])
                if let row {
                    let until: Int64? = row["until_ms"]
                    found[key] = ConsentTerm(until: until.map(Self.date))
                }
            }
            return found
        }
    }

    // MARK: Share links

    public func addShareLink(_ link: ShareLinkRecord) async throws {
        try await database.pool.write { db in
            let creator: String? = switch link.creator {
            case .root: nil
            case .tenant(let name): name
            }
            try db.execute(sql: """
                INSERT INTO share_links (token_hash, bucket, key, creator_tenant, expires_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [link.tokenHash, link.bucket, Data(link.key.utf8), creator,
                                 Self.milliseconds(link.expiresAt), Self.milliseconds(link.createdAt)])
        }
    }

    public func shareLink(tokenHash: String) async throws -> ShareLinkRecord? {
        try await database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM share_links WHERE token_hash = ?", arguments: [tokenHash]).map { row in
                let creator: String? = row["creator_tenant"]
                let key: Data = row["key"]
                return ShareLinkRecord(
                    tokenHash: row["token_hash"], bucket: row["bucket"], key: String(decoding: key, as: UTF8.self),
                    creator: creator.map { .tenant($0) } ?? .root,
                    expiresAt: Self.date(row["expires_ms"]), createdAt: Self.date(row["created_ms"]))
            }
        }
    }

    public func removeShareLink(tokenHash: String) async throws -> Bool {
        try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM share_links WHERE token_hash = ?", arguments: [tokenHash])
            return db.changesCount > 0
        }
    }

    // MARK: Rows

    // MARK: Immediate reads

    /// The cached tenants, when the cache is of the current generation (one point read).
    public func tenantsNow() -> [TenantRecord]? {
        guard let generation = try? currentGeneration() else { return nil }
        return cache.tenants(at: generation)
    }

    /// The cached key, when the cache is of the current generation (one point read).
    public func accessKeyNow(id: String) -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        guard let generation = try? currentGeneration() else { return nil }
        return cache.key(id, at: generation)
    }

    private static let generationSQL = "SELECT value FROM policy_generation WHERE id = 1"

    /// The counter the triggers raise, read on the calling thread by a point-read connection
    /// (one statement, its own snapshot), unless no commit came since it was last read.
    private func currentGeneration() throws -> Int64 {
        try generations.value(for: 0, at: database.pointReader.changeToken(), cost: { _ in 0 }) {
            try database.pointReader.integer(Self.generationSQL) ?? 0
        } ?? 0
    }

    private static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: generationSQL)) ?? 0
    }

    private static func fetchTenants(_ db: Database) throws -> [TenantRecord] {
        try Row.fetchAll(db, sql: "SELECT name, prefix, buckets, created_ms FROM tenants ORDER BY name").map(tenant)
    }

    private static func tenant(_ row: Row) throws -> TenantRecord {
        let prefix: Data = row["prefix"]
        let bucketsJSON: String = row["buckets"]
        let buckets = try JSONDecoder().decode([String].self, from: Data(bucketsJSON.utf8))
        return TenantRecord(
            name: row["name"], prefix: String(decoding: prefix, as: UTF8.self), buckets: buckets,
            createdAt: date(row["created_ms"]))
    }

    private static func insertKey(_ db: Database, _ key: AccessKeyRecord) throws {
        try db.execute(
            sql: "INSERT INTO access_keys (access_key_id, secret, tenant, created_ms) VALUES (?, ?, ?, ?)",
            arguments: [key.accessKeyID, key.secretAccessKey, key.tenant, milliseconds(key.createdAt)])
    }

    private static func encodeBuckets(_ buckets: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(buckets), as: UTF8.self)
    }

    private static func milliseconds(_ date: Date) -> Int64 { StorageClock.milliseconds(of: date) }
    private static func date(_ milliseconds: Int64) -> Date { StorageClock.date(milliseconds: milliseconds) }
}

/// Tenants and access keys as read at one `policy_generation`; anything cached at another
/// generation is dropped.
final class PolicyCache: Sendable {
    private struct Entries {
        var generation: Int64 = -1
        var tenants: [TenantRecord]?
        var keys: [String: (key: AccessKeyRecord, tenant: TenantRecord)] = [:]

        mutating func move(to generation: Int64) {
            guard generation != self.generation else { return }
            self = Entries(generation: generation)
        }
    }

    private let entries = Mutex(Entries())

    func tenants(at generation: Int64) -> [TenantRecord]? {
        entries.withLock { $0.generation == generation ? $0.tenants : nil }
    }

    func key(_ id: String, at generation: Int64) -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        entries.withLock { $0.generation == generation ? $0.keys[id] : nil }
    }

    func store(tenants: [TenantRecord], at generation: Int64) {
        update(at: generation) { $0.tenants = tenants }
    }

    func store(key: (key: AccessKeyRecord, tenant: TenantRecord), id: String, at generation: Int64) {
        update(at: generation) { $0.keys[id] = key }
    }

    /// Applies `change` to the entries of `generation`, dropping those of an older one; a
    /// read made at an older generation than the cached one is not stored.
    private func update(at generation: Int64, _ change: (inout Entries) -> Void) {
        entries.withLock { entries in
            guard generation >= entries.generation else { return }
            entries.move(to: generation)
            change(&entries)
        }
    }
}
