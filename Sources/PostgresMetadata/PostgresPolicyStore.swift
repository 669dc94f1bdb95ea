import Foundation
import Storage
import Logging
import Policy
import PolicyStore
import PostgresNIO

/// The ``PolicyStore`` in PostgreSQL (migrations `policy-*`): every instance sharing the
/// database sees a revocation, a removed tenant or a rotated key on its next request.
public struct PostgresPolicyStore: PolicyStore {
    let database: PostgresDatabase
    var logger: Logger { database.logger }

    /// Opens the store, creating or upgrading its tables.
    /// - Throws: PostgreSQL errors.
    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate([(id: "policy-v1", sql: [
            """
            CREATE TABLE tenants (
                name TEXT PRIMARY KEY,
                prefix BYTEA NOT NULL UNIQUE,
                buckets TEXT NOT NULL,
                created_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE access_keys (
                access_key_id TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
                created_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX access_keys_by_tenant ON access_keys (tenant)",
            """
            CREATE TABLE consents (
                tenant TEXT NOT NULL,
                subject TEXT NOT NULL,
                purpose TEXT NOT NULL,
                until_ms BIGINT,
                granted_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, subject, purpose))
            """,
            """
            CREATE TABLE share_links (
                token_hash TEXT PRIMARY KEY,
                bucket TEXT NOT NULL,
                key BYTEA NOT NULL,
                creator_tenant TEXT,
                expires_ms BIGINT NOT NULL,
                created_ms BIGINT NOT NULL)
            """,
        ])])
    }

    // MARK: Tenants

    public func addTenant(_ tenant: TenantRecord, key: AccessKeyRecord) async throws {
        let buckets = String(decoding: try JSONEncoder().encode(tenant.buckets), as: UTF8.self)
        let prefix = Data(tenant.prefix.utf8)
        try await database.transaction { connection in
            // One tenant change at a time across instances: the overlap check must see them all.
            try await connection.query("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            let existing = try await Self.fetchTenants(connection, logger)
            try Self.checkNewTenant(tenant, against: existing)
            try await connection.query("""
                INSERT INTO tenants (name, prefix, buckets, created_ms)
                VALUES (\(tenant.name), \(prefix), \(buckets), \(StorageClock.milliseconds(of: tenant.createdAt)))
                """, logger: logger)
            try await Self.insertKey(connection, key, logger)
        }
    }

    public func tenants() async throws -> [TenantRecord] {
        try await database.client.withConnection { connection in try await Self.fetchTenants(connection, logger) }
    }

    public func removeTenant(named name: String) async throws -> Bool {
        try await database.transaction { connection in
            try await connection.query("DELETE FROM access_keys WHERE tenant = \(name)", logger: logger)
            let rows = try await connection.query("DELETE FROM tenants WHERE name = \(name) RETURNING name", logger: logger)
            var removed = false
            for try await _ in rows { removed = true }
            return removed
        }
    }

    public func replaceKeys(ofTenant name: String, with key: AccessKeyRecord) async throws {
        try await database.transaction { connection in
            let rows = try await connection.query("SELECT 1 FROM tenants WHERE name = \(name) FOR UPDATE", logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { throw PolicyStoreError(.noSuchTenant, "no tenant named \(name)") }
            try await connection.query("DELETE FROM access_keys WHERE tenant = \(name)", logger: logger)
            try await Self.insertKey(connection, key, logger)
        }
    }

    public func accessKeyIDs(ofTenant name: String) async throws -> [String] {
        let rows = try await database.client.query(
            "SELECT access_key_id FROM access_keys WHERE tenant = \(name) ORDER BY access_key_id", logger: logger)
        var ids: [String] = []
        for try await id in rows.decode(String.self) { ids.append(id) }
        return ids
    }

    public func accessKey(id: String) async throws -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        let rows = try await database.client.query("""
            SELECT k.access_key_id, k.secret, k.created_ms, t.name, t.prefix, t.buckets, t.created_ms
            FROM access_keys k JOIN tenants t ON t.name = k.tenant WHERE k.access_key_id = \(id)
            """, logger: logger)
        for try await (keyID, secret, keyMS, name, prefix, buckets, tenantMS) in rows.decode((String, String, Int64, String, Data, String, Int64).self) {
            let key = AccessKeyRecord(accessKeyID: keyID, secretAccessKey: secret, tenant: name, createdAt: StorageClock.date(milliseconds: keyMS))
            return (key, try Self.tenant(name, prefix, buckets, tenantMS))
        }
        return nil
    }

    // MARK: Consents

    public func grantConsent(_ key: ConsentKey, until: Date?, at now: Date) async throws {
        try await database.client.query("""
            INSERT INTO consents (tenant, subject, purpose, until_ms, granted_ms)
            VALUES (\(key.tenant ?? ""), \(key.subject), \(key.purpose), \(until.map(StorageClock.milliseconds(of:))), \(StorageClock.milliseconds(of: now)))
            ON CONFLICT (tenant, subject, purpose) DO UPDATE SET until_ms = EXCLUDED.until_ms, granted_ms = EXCLUDED.granted_ms
            """, logger: logger)
    }

    public func revokeConsent(_ key: ConsentKey) async throws -> Bool {
        let rows = try await database.client.query("""
            DELETE FROM consents WHERE tenant = \(key.tenant ?? "") AND subject = \(key.subject) AND purpose = \(key.purpose)
            RETURNING subject
            """, logger: logger)
        var removed = false
        for try await _ in rows { removed = true }
        return removed
    }

    public func consents(_ keys: [ConsentKey]) async throws -> [ConsentKey: ConsentTerm] {
        var found: [ConsentKey: ConsentTerm] = [:]
        for key in Set(keys) {
            let rows = try await database.client.query("""
                SELECT until_ms FROM consents WHERE tenant = \(key.tenant ?? "") AND subject = \(key.subject) AND purpose = \(key.purpose)
                """, logger: logger)
            for try await until in rows.decode(Int64?.self) {
                found[key] = ConsentTerm(until: until.map { StorageClock.date(milliseconds: $0) })
            }
        }
        return found
    }

    // MARK: Share links

    public func addShareLink(_ link: ShareLinkRecord) async throws {
        let creator: String? = switch link.creator {
        case .root: nil
        case .tenant(let name): name
        }
        try await database.client.query("""
            INSERT INTO share_links (token_hash, bucket, key, creator_tenant, expires_ms, created_ms)
            VALUES (\(link.tokenHash), \(link.bucket), \(Data(link.key.utf8)), \(creator), \(StorageClock.milliseconds(of: link.expiresAt)), \(StorageClock.milliseconds(of: link.createdAt)))
            """, logger: logger)
    }

    public func shareLink(tokenHash: String) async throws -> ShareLinkRecord? {
        let rows = try await database.client.query("""
            SELECT token_hash, bucket, key, creator_tenant, expires_ms, created_ms FROM share_links WHERE token_hash = \(tokenHash)
            """, logger: logger)
        for try await (hash, bucket, key, creator, expires, created) in rows.decode((String, String, Data, String?, Int64, Int64).self) {
            return ShareLinkRecord(
                tokenHash: hash, bucket: bucket, key: String(decoding: key, as: UTF8.self),
                creator: creator.map { .tenant($0) } ?? .root, expiresAt: StorageClock.date(milliseconds: expires), createdAt: StorageClock.date(milliseconds: created))
        }
        return nil
    }

    public func removeShareLink(tokenHash: String) async throws -> Bool {
        let rows = try await database.client.query(
            "DELETE FROM share_links WHERE token_hash = \(tokenHash) RETURNING token_hash", logger: logger)
        var removed = false
        for try await _ in rows { removed = true }
        return removed
    }

    // MARK: Rows

    private static func fetchTenants(_ connection: PostgresConnection, _ logger: Logger) async throws -> [TenantRecord] {
        let rows = try await connection.query("SELECT name, prefix, buckets, created_ms FROM tenants ORDER BY name", logger: logger)
        var tenants: [TenantRecord] = []
        for try await (name, prefix, buckets, created) in rows.decode((String, Data, String, Int64).self) {
            tenants.append(try tenant(name, prefix, buckets, created))
        }
        return tenants
    }

    private static func tenant(_ name: String, _ prefix: Data, _ buckets: String, _ created: Int64) throws -> TenantRecord {
        TenantRecord(
            name: name, prefix: String(decoding: prefix, as: UTF8.self),
            buckets: try JSONDecoder().decode([String].self, from: Data(buckets.utf8)), createdAt: StorageClock.date(milliseconds: created))
    }

    private static func insertKey(_ connection: PostgresConnection, _ key: AccessKeyRecord, _ logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO access_keys (access_key_id, secret, tenant, created_ms)
            VALUES (\(key.accessKeyID), \(key.secretAccessKey), \(key.tenant), \(StorageClock.milliseconds(of: key.createdAt)))
            """, logger: logger)
    }
}
