import Foundation
import PostgresTestSupport
import Policy
import PolicyStore
import PostgresMetadata
import SQLiteMetadata
import Testing

/// The implementations every contract test runs against.
enum PolicyStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case sqlite
    case postgres
    var testDescription: String { rawValue }
}

/// A fresh, empty store; the SQLite one lives in its own temp directory.
final class PolicyStoreHarness: Sendable {
    let store: any PolicyStore
    let directory: URL?
    let pool: Task<Void, Never>?

    private init(store: any PolicyStore, directory: URL?, pool: Task<Void, Never>? = nil) {
        self.store = store
        self.directory = directory
        self.pool = pool
    }

    static func make(_ kind: PolicyStoreKind) async throws -> PolicyStoreHarness {
        switch kind {
        case .memory:
            return PolicyStoreHarness(store: InMemoryPolicyStore(), directory: nil)
        case .sqlite:
            let directory = makeTemporaryDirectory()
            let store = try SQLitePolicyStore(database: SQLiteDatabase(path: directory.appendingPathComponent("m.db").path))
            return PolicyStoreHarness(store: store, directory: directory)
        case .postgres:
            // A real server (Debian's postgresql), a database of its own per test.
            let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
            let pool = Task { await database.run() }
            return PolicyStoreHarness(store: try await PostgresPolicyStore(database: database), directory: nil, pool: pool)
        }
    }

    static func makeTemporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-policy-\(UUID().uuidString)")
    }

    /// Call from a `defer` so the harness outlives the test.
    func cleanUp() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        pool?.cancel()
    }
}

/// Whole seconds survive every store's time precision.
let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func tenant(_ name: String, _ prefix: String, buckets: [String] = []) -> TenantRecord {
    TenantRecord(name: name, prefix: prefix, buckets: buckets, createdAt: t0)
}

func accessKey(_ id: String, _ tenant: String) -> AccessKeyRecord {
    AccessKeyRecord(accessKeyID: id, secretAccessKey: "secret-\(id)", tenant: tenant, createdAt: t0.addingTimeInterval(5))
}

/// The code of a thrown ``PolicyStoreError``, or nil when nothing (or something else) was thrown.
func storeErrorCode(_ body: () async throws -> Void) async -> PolicyStoreError.Code? {
    do {
        try await body()
        return nil
    } catch let error as PolicyStoreError {
        return error.code
    } catch {
        return nil
    }
}

@Suite("PolicyStore contract")
struct PolicyStoreContractTests {
    // MARK: Tenants

    @Test(arguments: PolicyStoreKind.allCases)
    func addListRemoveTenants(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        #expect(try await store.tenants().isEmpty)
        let zeta = tenant("zeta", "z/", buckets: ["media", "raw"])
        let alpha = tenant("alpha", "tenants/alpha/")
        try await store.addTenant(zeta, key: accessKey("AKZ", "zeta"))
        try await store.addTenant(alpha, key: accessKey("AKA", "alpha"))
        #expect(try await store.tenants() == [alpha, zeta])

        #expect(try await store.removeTenant(named: "zeta"))
        #expect(try await store.tenants() == [alpha])
        #expect(try await store.removeTenant(named: "zeta") == false)
        #expect(try await store.removeTenant(named: "nobody") == false)
        // The name and the prefix are free again.
        try await store.addTenant(tenant("zeta", "z/"), key: accessKey("AKZ2", "zeta"))
        #expect(try await store.tenants().map(\.name) == ["alpha", "zeta"])
    }

    @Test(arguments: PolicyStoreKind.allCases)
    func duplicateNameIsRefused(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        try await store.addTenant(tenant("acme", "acme/"), key: accessKey("AK1", "acme"))
        #expect(await storeErrorCode { try await store.addTenant(tenant("acme", "other/"), key: accessKey("AK2", "acme")) } == .tenantExists)
        // Nothing of the refused tenant is kept, its key included.
        #expect(try await store.tenants() == [tenant("acme", "acme/")])
        #expect(try await store.accessKey(id: "AK2")?.key == nil)
        #expect(try await store.accessKeyIDs(ofTenant: "acme") == ["AK1"])
    }

    struct PrefixPair: Sendable, CustomTestStringConvertible {
        var first: String
        var second: String
        var overlaps: Bool
        var testDescription: String { "\(first) then \(second) → \(overlaps ? "overlap" : "ok")" }
    }

    static let prefixPairs: [PrefixPair] = [
        PrefixPair(first: "acme/", second: "acme/x/", overlaps: true),
        PrefixPair(first: "acme/x/", second: "acme/", overlaps: true),
        PrefixPair(first: "acme/", second: "acme/", overlaps: true),
        PrefixPair(first: "acme/", second: "acmex/", overlaps: false),
        PrefixPair(first: "acmex/", second: "acme/", overlaps: false),
        PrefixPair(first: "acme/", second: "bolt/acme/", overlaps: false),
        PrefixPair(first: "a/b/", second: "a/c/", overlaps: false),
    ]

    @Test(arguments: PolicyStoreKind.allCases, prefixPairs)
    func overlappingPrefixesAreRefused(kind: PolicyStoreKind, pair: PrefixPair) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        try await store.addTenant(tenant("one", pair.first), key: accessKey("AK1", "one"))
        let code = await storeErrorCode { try await store.addTenant(tenant("two", pair.second), key: accessKey("AK2", "two")) }
        let expected: PolicyStoreError.Code? = pair.overlaps ? .prefixOverlap : nil
        #expect(code == expected)
        #expect(try await store.tenants().map(\.name) == (pair.overlaps ? ["one"] : ["one", "two"]))
    }

    struct Candidate: Sendable, CustomTestStringConvertible {
        var name: String
        var prefix: String
        var testDescription: String { "name '\(name)' prefix '\(prefix)'" }
    }

    static let invalidTenants: [Candidate] = [
        Candidate(name: "acme", prefix: "acme"),
        Candidate(name: "acme", prefix: "/acme/"),
        Candidate(name: "acme", prefix: "acme/../x/"),
        Candidate(name: "acme", prefix: "../"),
        Candidate(name: "acme", prefix: "a/../"),
        Candidate(name: "acme", prefix: ""),
        Candidate(name: "acme", prefix: "/"),
        Candidate(name: "", prefix: "acme/"),
        Candidate(name: "Acme", prefix: "acme/"),
        Candidate(name: "-acme", prefix: "acme/"),
        Candidate(name: "_acme", prefix: "acme/"),
        Candidate(name: "ac me", prefix: "acme/"),
        Candidate(name: "acme.io", prefix: "acme/"),
        Candidate(name: String(repeating: "a", count: 64), prefix: "acme/"),
    ]

    @Test(arguments: PolicyStoreKind.allCases, invalidTenants)
    func invalidTenantsAreRefused(kind: PolicyStoreKind, candidate: Candidate) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        let code = await storeErrorCode {
            try await store.addTenant(tenant(candidate.name, candidate.prefix), key: accessKey("AK1", candidate.name))
        }
        #expect(code == .invalid)
        #expect(try await store.tenants().isEmpty)
        #expect(try await store.accessKey(id: "AK1")?.key == nil)
    }

    static let validTenants: [Candidate] = [
        Candidate(name: "a", prefix: "a/"),
        Candidate(name: "0acme", prefix: "x/y/z/"),
        Candidate(name: "a-b_c9", prefix: "a..b/"),
        Candidate(name: String(repeating: "a", count: 63), prefix: "caf\u{E9}/"),
    ]

    @Test(arguments: PolicyStoreKind.allCases, validTenants)
    func validTenantsAreStoredAsGiven(kind: PolicyStoreKind, candidate: Candidate) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let record = tenant(candidate.name, candidate.prefix)
        try await harness.store.addTenant(record, key: accessKey("AK1", candidate.name))
        #expect(try await harness.store.tenants() == [record])
        #expect(try await Array(harness.store.tenants()[0].prefix.utf8) == Array(candidate.prefix.utf8))
    }

    // MARK: Access keys

    @Test(arguments: PolicyStoreKind.allCases)
    func accessKeysFindTheirTenant(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        let acme = tenant("acme", "acme/", buckets: ["media"])
        let bolt = tenant("bolt", "bolt/")
        try await store.addTenant(acme, key: accessKey("AK1", "acme"))
        try await store.addTenant(bolt, key: accessKey("BK1", "bolt"))

        let found = try #require(try await store.accessKey(id: "AK1"))
        #expect(found.key == accessKey("AK1", "acme"))
        #expect(found.tenant == acme)
        #expect(try await store.accessKey(id: "BK1")?.tenant == bolt)
        #expect(try await store.accessKey(id: "nope")?.key == nil)
        #expect(try await store.accessKeyIDs(ofTenant: "acme") == ["AK1"])

        // Rotation: the old key is unknown at once, the new one works.
        try await store.replaceKeys(ofTenant: "acme", with: accessKey("AK2", "acme"))
        #expect(try await store.accessKey(id: "AK1")?.key == nil)
        #expect(try await store.accessKey(id: "AK2")?.tenant == acme)
        #expect(try await store.accessKeyIDs(ofTenant: "acme") == ["AK2"])
        #expect(try await store.accessKeyIDs(ofTenant: "bolt") == ["BK1"])
        #expect(await storeErrorCode { try await store.replaceKeys(ofTenant: "nobody", with: accessKey("NK1", "nobody")) } == .noSuchTenant)
        #expect(try await store.accessKey(id: "NK1")?.key == nil)

        // Removing a tenant removes its keys, and only its keys.
        #expect(try await store.removeTenant(named: "acme"))
        #expect(try await store.accessKey(id: "AK2")?.key == nil)
        #expect(try await store.accessKeyIDs(ofTenant: "acme").isEmpty)
        #expect(try await store.accessKey(id: "BK1")?.tenant == bolt)
        // A new tenant with the old name does not revive the old keys.
        try await store.addTenant(acme, key: accessKey("AK3", "acme"))
        #expect(try await store.accessKey(id: "AK2")?.key == nil)
        #expect(try await store.accessKeyIDs(ofTenant: "acme") == ["AK3"])
    }

    // MARK: Consents

    @Test(arguments: PolicyStoreKind.allCases)
    func consentsGrantReplaceRevoke(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        let u1 = ConsentKey(tenant: "acme", subject: "u1", purpose: "biometric_processing")
        let u2 = ConsentKey(tenant: "acme", subject: "u2", purpose: "biometric_processing")
        let marketing = ConsentKey(tenant: "acme", subject: "u1", purpose: "marketing")
        #expect(try await store.consents([]).isEmpty)
        #expect(try await store.consents([u1, u2]).isEmpty)

        try await store.grantConsent(u1, until: nil, at: t0)
        #expect(try await store.consents([u1, u2, marketing]) == [u1: ConsentTerm(until: nil)])

        // Granting again replaces the term; an expired term is still returned (policy decides).
        let until = t0.addingTimeInterval(3600)
        try await store.grantConsent(u1, until: until, at: t0.addingTimeInterval(1))
        #expect(try await store.consents([u1]) == [u1: ConsentTerm(until: until)])
        try await store.grantConsent(u2, until: t0.addingTimeInterval(-60), at: t0)
        #expect(try await store.consents([u1, u2]) == [u1: ConsentTerm(until: until), u2: ConsentTerm(until: t0.addingTimeInterval(-60))])
        try await store.grantConsent(u1, until: nil, at: t0.addingTimeInterval(2))
        #expect(try await store.consents([u1]) == [u1: ConsentTerm(until: nil)])

        #expect(try await store.revokeConsent(u1))
        #expect(try await store.consents([u1, u2]) == [u2: ConsentTerm(until: t0.addingTimeInterval(-60))])
        #expect(try await store.revokeConsent(u1) == false)
        #expect(try await store.revokeConsent(marketing) == false)
    }

    @Test(arguments: PolicyStoreKind.allCases)
    func consentTenantsAreDistinct(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        let none = ConsentKey(tenant: nil, subject: "u1", purpose: "biometric_processing")
        let x = ConsentKey(tenant: "x", subject: "u1", purpose: "biometric_processing")
        try await store.grantConsent(none, until: nil, at: t0)
        #expect(try await store.consents([none, x]) == [none: ConsentTerm(until: nil)])
        #expect(try await store.revokeConsent(x) == false)

        try await store.grantConsent(x, until: t0.addingTimeInterval(10), at: t0)
        #expect(try await store.consents([none, x]) == [none: ConsentTerm(until: nil), x: ConsentTerm(until: t0.addingTimeInterval(10))])
        #expect(try await store.revokeConsent(none))
        #expect(try await store.consents([none, x]) == [x: ConsentTerm(until: t0.addingTimeInterval(10))])
    }

    // MARK: Share links

    @Test(arguments: PolicyStoreKind.allCases)
    func shareLinksAddGetRemove(kind: PolicyStoreKind) async throws {
        let harness = try await PolicyStoreHarness.make(kind)
        defer { harness.cleanUp() }
        let store = harness.store
        let byTenant = ShareLinkRecord(
            tokenHash: String(repeating: "ab", count: 32), bucket: "media", key: "acme/caf\u{E9}/a b.jpg",
            creator: .tenant("acme"), expiresAt: t0.addingTimeInterval(86_400), createdAt: t0)
        let byRoot = ShareLinkRecord(
            tokenHash: String(repeating: "cd", count: 32), bucket: "raw", key: "x", creator: .root,
            expiresAt: t0.addingTimeInterval(60), createdAt: t0)
        try await store.addShareLink(byTenant)
        try await store.addShareLink(byRoot)

        #expect(try await store.shareLink(tokenHash: byTenant.tokenHash) == byTenant)
        #expect(try await store.shareLink(tokenHash: byRoot.tokenHash) == byRoot)
        #expect(try await store.shareLink(tokenHash: String(repeating: "ef", count: 32)) == nil)
        let stored = try #require(try await store.shareLink(tokenHash: byTenant.tokenHash))
        #expect(Array(stored.key.utf8) == Array(byTenant.key.utf8))

        #expect(try await store.removeShareLink(tokenHash: byTenant.tokenHash))
        #expect(try await store.shareLink(tokenHash: byTenant.tokenHash) == nil)
        #expect(try await store.removeShareLink(tokenHash: byTenant.tokenHash) == false)
        #expect(try await store.shareLink(tokenHash: byRoot.tokenHash) == byRoot)
    }

    // MARK: SQLite across connections

    /// A second database on the same file, as an admin command in another process would open it.
    @Test func sqliteWritesAreSeenByAnotherConnectionAtOnce() async throws {
        let directory = PolicyStoreHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("m.db").path
        let server = try SQLitePolicyStore(database: SQLiteDatabase(path: path))
        let admin = try SQLitePolicyStore(database: SQLiteDatabase(path: path))
        let u1 = ConsentKey(tenant: "acme", subject: "u1", purpose: "biometric_processing")

        try await admin.grantConsent(u1, until: nil, at: t0)
        #expect(try await server.consents([u1]) == [u1: ConsentTerm(until: nil)])
        #expect(try await admin.revokeConsent(u1))
        #expect(try await server.consents([u1]).isEmpty)

        // The server keeps tenants and keys in memory: each read below follows one that filled
        // that memory, so a stale answer would show.
        #expect(try await server.tenants().isEmpty)
        #expect(try await server.accessKey(id: "AK1") == nil)
        try await admin.addTenant(tenant("acme", "acme/"), key: accessKey("AK1", "acme"))
        #expect(try await server.tenants().map(\.name) == ["acme"])
        #expect(try await server.accessKey(id: "AK1")?.tenant.name == "acme")
        #expect(try await server.accessKey(id: "AK1")?.tenant.buckets == [])
        // A change made with plain SQL (no store method) is seen too.
        try await admin.database.pool.write { db in
            try db.execute(sql: "UPDATE tenants SET buckets = '[\"other\"]' WHERE name = 'acme'")
        }
        #expect(try await server.tenants().first?.buckets == ["other"])
        #expect(try await server.accessKey(id: "AK1")?.tenant.buckets == ["other"])
        try await admin.replaceKeys(ofTenant: "acme", with: accessKey("AK2", "acme"))
        #expect(try await server.accessKey(id: "AK1")?.key == nil)
        #expect(try await server.accessKey(id: "AK2")?.key.accessKeyID == "AK2")
        #expect(try await admin.removeTenant(named: "acme"))
        #expect(try await server.accessKey(id: "AK2")?.key == nil)
        #expect(try await server.tenants().isEmpty)
    }
}
