import Foundation
import Policy
import Synchronization

/// A ``PolicyStore`` in memory, for unit tests.
public final class InMemoryPolicyStore: PolicyStore, ImmediatePolicyReads {
    private struct State {
        var tenants: [String: TenantRecord] = [:]
        var keys: [String: AccessKeyRecord] = [:]
        var consents: [ConsentKey: ConsentTerm] = [:]
        var links: [String: ShareLinkRecord] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    public func addTenant(_ tenant: TenantRecord, key: AccessKeyRecord) async throws {
        try state.withLock { state in
            try Self.checkNewTenant(tenant, against: Array(state.tenants.values))
            state.tenants[tenant.name] = tenant
            state.keys[key.accessKeyID] = key
        }
    }

    public func tenants() async throws -> [TenantRecord] {
        tenantsNow() ?? []
    }

    public func removeTenant(named name: String) async throws -> Bool {
        state.withLock { state in
            state.keys = state.keys.filter { $0.value.tenant != name }
            return state.tenants.removeValue(forKey: name) != nil
        }
    }

    public func replaceKeys(ofTenant name: String, with key: AccessKeyRecord) async throws {
        try state.withLock { state in
            guard state.tenants[name] != nil else { throw PolicyStoreError(.noSuchTenant, "no tenant named \(name)") }
            state.keys = state.keys.filter { $0.value.tenant != name }
            state.keys[key.accessKeyID] = key
        }
    }

    public func accessKeyIDs(ofTenant name: String) async throws -> [String] {
        state.withLock { $0.keys.values.filter { $0.tenant == name }.map(\.accessKeyID).sorted() }
    }

    public func accessKey(id: String) async throws -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        accessKeyNow(id: id)
    }

    /// Always at hand: the store is memory.
    public func tenantsNow() -> [TenantRecord]? {
        state.withLock { $0.tenants.values.sorted { $0.name < $1.name } }
    }

    public func accessKeyNow(id: String) -> (key: AccessKeyRecord, tenant: TenantRecord)? {
        state.withLock { state in
            guard let key = state.keys[id], let tenant = state.tenants[key.tenant] else { return nil }
            return (key, tenant)
        }
    }

    public func grantConsent(_ key: ConsentKey, until: Date?, at now: Date) async throws {
        state.withLock { $0.consents[key] = ConsentTerm(until: until) }
    }

    public func revokeConsent(_ key: ConsentKey) async throws -> Bool {
        state.withLock { $0.consents.removeValue(forKey: key) != nil }
    }

    public func consents(_ keys: [ConsentKey]) async throws -> [ConsentKey: ConsentTerm] {
        state.withLock { state in
            var found: [ConsentKey: ConsentTerm] = [:]
            for key in keys { if let term = state.consents[key] { found[key] = term } }
            return found
        }
    }

    public func addShareLink(_ link: ShareLinkRecord) async throws {
        state.withLock { $0.links[link.tokenHash] = link }
    }

    public func shareLink(tokenHash: String) async throws -> ShareLinkRecord? {
        state.withLock { $0.links[tokenHash] }
    }

    public func removeShareLink(tokenHash: String) async throws -> Bool {
        state.withLock { $0.links.removeValue(forKey: tokenHash) != nil }
    }
}
