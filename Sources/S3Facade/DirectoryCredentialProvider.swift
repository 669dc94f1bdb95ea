import GatewayCore
import PolicyStore
import SigV4

/// The root pair plus every tenant key in the policy store, looked up on each request (a
/// removed tenant or a rotated key stops working at once).
public struct DirectoryCredentialProvider: CredentialProvider {
    private let root: SigV4Credentials
    private let store: any PolicyStore

    /// Creates a provider.
    public init(root: SigV4Credentials, store: any PolicyStore) {
        self.root = root
        self.store = store
    }

    public func credential(for accessKeyID: String) async throws -> StoredCredential? {
        if ConstantTime.equals(accessKeyID, root.accessKeyID) {
            return StoredCredential(secretAccessKey: root.secretAccessKey, principal: .root(accessKeyID: root.accessKeyID))
        }
        guard let (key, tenant) = try await store.accessKey(id: accessKeyID) else { return nil }
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
