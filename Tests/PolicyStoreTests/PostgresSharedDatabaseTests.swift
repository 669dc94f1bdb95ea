import Foundation
import PostgresTestSupport
import Policy
import PolicyStore
import PostgresMetadata
import Storage
import Testing

/// Two gateway instances on one PostgreSQL database, as SPEC §7 runs them side by side.
struct PostgresSharedDatabaseTests {
    @Test func aRevocationOnOneInstanceAppliesOnTheOtherAtOnce() async throws {
        let url = try await PostgresTestServer.shared.makeDatabaseURL()
        let first = try PostgresDatabase(url: url)
        let second = try PostgresDatabase(url: url)
        let pools = [Task { await first.run() }, Task { await second.run() }]
        defer { pools.forEach { $0.cancel() } }
        // Both migrate at start, concurrently: the advisory lock makes them take turns.
        async let a = PostgresPolicyStore(database: first)
        async let b = PostgresPolicyStore(database: second)
        let (one, two) = try await (a, b)

        let u1 = ConsentKey(tenant: "acme", subject: "u1", purpose: "biometric_processing")
        try await one.grantConsent(u1, until: nil, at: Date())
        #expect(try await two.consents([u1]) == [u1: ConsentTerm(until: nil)])
        #expect(try await two.revokeConsent(u1))
        #expect(try await one.consents([u1]).isEmpty)

        let key = AccessKeyRecord(accessKeyID: "MGSHARED1", secretAccessKey: "s", tenant: "acme", createdAt: Date())
        try await one.addTenant(TenantRecord(name: "acme", prefix: "acme/", buckets: [], createdAt: Date()), key: key)
        #expect(try await two.accessKey(id: "MGSHARED1")?.tenant.prefix == "acme/")
        #expect(try await two.removeTenant(named: "acme"))
        #expect(try await one.accessKey(id: "MGSHARED1") == nil)
    }

    @Test func overlappingTenantsFromTwoInstancesAtOnceOneWins() async throws {
        let url = try await PostgresTestServer.shared.makeDatabaseURL()
        let first = try PostgresDatabase(url: url)
        let second = try PostgresDatabase(url: url)
        let pools = [Task { await first.run() }, Task { await second.run() }]
        defer { pools.forEach { $0.cancel() } }
        let one = try await PostgresPolicyStore(database: first)
        let two = try await PostgresPolicyStore(database: second)
        let now = Date()
        let left = Task {
            try await one.addTenant(
                TenantRecord(name: "left", prefix: "shared/", buckets: [], createdAt: now),
                key: AccessKeyRecord(accessKeyID: "MGLEFT", secretAccessKey: "s", tenant: "left", createdAt: now))
        }
        let right = Task {
            try await two.addTenant(
                TenantRecord(name: "right", prefix: "shared/deeper/", buckets: [], createdAt: now),
                key: AccessKeyRecord(accessKeyID: "MGRIGHT", secretAccessKey: "s", tenant: "right", createdAt: now))
        }
        let outcomes = [await left.result, await right.result]
        #expect(outcomes.filter { if case .success = $0 { true } else { false } }.count == 1)
        #expect(try await one.tenants().count == 1)
    }

    @Test func mediaInfoFillsOnlyEmptyFields() async throws {
        let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
        let pool = Task { await database.run() }
        defer { pool.cancel() }
        let store = try await PostgresMediaInfoStore(database: database)
        var computed = MediaInfo()
        computed.width = 1024
        computed.gpsLat = 43.5
        _ = try await store.saveComputed(computed, bucket: "b", key: "k/original.jpg", etag: "e1")
        var patch = MediaInfo()
        patch.width = 1
        patch.altText = "a hill"
        let filled = try await store.fill(patch, bucket: "b", key: "k/original.jpg", etag: "e1")
        #expect(filled.width == 1024)
        #expect(filled.altText == "a hill")
        // A new version keeps the client's text, not the old version's facts.
        var next = MediaInfo()
        next.width = 800
        let second = try await store.saveComputed(next, bucket: "b", key: "k/original.jpg", etag: "e2")
        #expect(second.width == 800 && second.gpsLat == nil && second.altText == "a hill")
        #expect(try await store.mediaInfo(bucket: "b", key: "k/original.jpg")?.etag == "e2")
    }
}
