import Foundation
import Policy

/// Tenants, access keys, consents and share links: the records policy decisions read.
///
/// Implementations: ``InMemoryPolicyStore`` (unit tests) and `SQLitePolicyStore`. Every read
/// sees every write committed before it, also from other processes (admin commands) and other
/// instances sharing the database, so a revocation applies to the next request.
public protocol PolicyStore: Sendable {
    /// Adds a tenant with its first access key.
    /// - Throws: ``PolicyStoreError`` `.tenantExists`, `.prefixOverlap` or `.invalid`.
    func addTenant(_ tenant: TenantRecord, key: AccessKeyRecord) async throws

    /// Every tenant, by name.
    /// - Throws: when the store cannot be read.
    func tenants() async throws -> [TenantRecord]

    /// Removes a tenant and its access keys. Returns false when there was none.
    /// - Throws: when the store cannot be written.
    func removeTenant(named name: String) async throws -> Bool

    /// Replaces every access key of a tenant with `key`.
    /// - Throws: ``PolicyStoreError`` `.noSuchTenant`.
    func replaceKeys(ofTenant name: String, with key: AccessKeyRecord) async throws

    /// The access key ids of a tenant.
    /// - Throws: when the store cannot be read.
    func accessKeyIDs(ofTenant name: String) async throws -> [String]

    /// An access key and its tenant, or nil when unknown.
    /// - Throws: when the store cannot be read.
    func accessKey(id: String) async throws -> (key: AccessKeyRecord, tenant: TenantRecord)?

    /// Records (or replaces) a consent.
    /// - Throws: when the store cannot be written.
    func grantConsent(_ key: ConsentKey, until: Date?, at now: Date) async throws

    /// Removes a consent. Returns false when there was none.
    /// - Throws: when the store cannot be written.
    func revokeConsent(_ key: ConsentKey) async throws -> Bool

    /// The recorded consents among `keys` (active or not: policy decides with their terms).
    /// - Throws: when the store cannot be read.
    func consents(_ keys: [ConsentKey]) async throws -> [ConsentKey: ConsentTerm]

    /// Stores a share link.
    /// - Throws: when the store cannot be written.
    func addShareLink(_ link: ShareLinkRecord) async throws

    /// The share link with this token hash, or nil.
    /// - Throws: when the store cannot be read.
    func shareLink(tokenHash: String) async throws -> ShareLinkRecord?

    /// Deletes a share link. Returns false when there was none.
    /// - Throws: when the store cannot be written.
    func removeShareLink(tokenHash: String) async throws -> Bool
}

extension PolicyStore {
    /// Checks a new tenant against the existing ones.
    /// - Throws: ``PolicyStoreError`` `.tenantExists` or `.prefixOverlap`.
    public static func checkNewTenant(_ tenant: TenantRecord, against existing: [TenantRecord]) throws(PolicyStoreError) {
        try tenant.validate()
        for other in existing {
            if other.name == tenant.name { throw PolicyStoreError(.tenantExists, "tenant \(tenant.name) already exists") }
            if other.prefix.utf8.starts(with: tenant.prefix.utf8) || tenant.prefix.utf8.starts(with: other.prefix.utf8) {
                throw PolicyStoreError(.prefixOverlap, "prefix \(tenant.prefix) overlaps tenant \(other.name)'s prefix \(other.prefix)")
            }
        }
    }
}
