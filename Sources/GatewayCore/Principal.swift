/// Who a request acts for, once its signature is verified.
public enum Principal: Sendable, Equatable {
    /// The gateway's root credentials: every bucket, every key (consent rules still apply).
    case root(accessKeyID: String)
    /// A tenant's credentials: confined to the tenant's key prefix and buckets.
    case tenant(TenantIdentity)
    /// No credentials at all.
    case anonymous

    /// The access key the request was signed with, if any.
    public var accessKeyID: String? {
        switch self {
        case .root(let key): return key
        case .tenant(let tenant): return tenant.accessKeyID
        case .anonymous: return nil
        }
    }
}

/// A tenant as seen by a request.
public struct TenantIdentity: Sendable, Equatable {
    public var name: String
    public var accessKeyID: String
    /// Every key the tenant touches starts with this prefix (for example `acme/`).
    public var prefix: String
    /// Buckets the tenant may use; empty means any bucket.
    public var buckets: [String]

    public init(name: String, accessKeyID: String, prefix: String, buckets: [String]) {
        self.name = name
        self.accessKeyID = accessKeyID
        self.prefix = prefix
        self.buckets = buckets
    }
}
