import GatewayCore
import PolicyStore
import SigV4

/// The root pair plus every tenant key in the policy store, looked up on each request (a
/// removed tenant or a rotated key stops working at once).
public struct DirectoryCredentialProvider: CredentialProvider, ImmediateCredentials {
    private let root: SigV4Credentials
    private let store: any PolicyStore
    /// ``store`` when it answers from its cache without suspending (looked up once).
    private let immediateStore: (any ImmediatePolicyReads)?

    /// Creates a provider.
    public init(root: SigV4Credentials, store: any PolicyStore) {
        self.root = root
        self.store = store
        self.immediateStore = store as? any ImmediatePolicyReads
    }

    public func credential(for accessKeyID: String) async throws -> StoredCredential? {
        if let root = rootCredential(accessKeyID) { return root }
        guard let found = try await store.accessKey(id: accessKeyID) else { return nil }
        return Self.tenantCredential(found)
    }

    /// Root's pair, or a tenant key the store holds at hand (``ImmediatePolicyReads``).
    public func credentialNow(for accessKeyID: String) -> StoredCredential? {
        if let root = rootCredential(accessKeyID) { return root }
        guard let found = immediateStore?.accessKeyNow(id: accessKeyID) else { return nil }
        return Self.tenantCredential(found)
    }

    private func rootCredential(_ accessKeyID: String) -> StoredCredential? {
        guard ConstantTime.equals(accessKeyID, root.accessKeyID) else { return nil }
        return StoredCredential(secretAccessKey: root.secretAccessKey, principal: .root(accessKeyID: root.accessKeyID))
    }

    private static func tenantCredential(_ found: (key: AccessKeyRecord, tenant: TenantRecord)) -> StoredCredential {
        let (key, tenant) = found
        let identity = TenantIdentity(name: tenant.name, accessKeyID: key.accessKeyID, prefix: tenant.prefix, buckets: tenant.buckets)
        return StoredCredential(secretAccessKey: key.secretAccessKey, principal: .tenant(identity))
    }
}

/// What the control API needs besides the gateway: the admin token, and root's pair to sign
/// URLs for admin callers.
public struct ControlAccess: Sendable {
    /// The bearer token of `Authorization: Bearer …`.
    public var adminToken: String
    /// Root's access key pair.
    public var root: SigV4Credentials

    /// Creates the access settings.
    public init(adminToken: String, root: SigV4Credentials) {
        self.adminToken = adminToken
        self.root = root
    }
}
