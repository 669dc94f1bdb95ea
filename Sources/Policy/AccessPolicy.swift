import GatewayCore

/// What a request wants to do, as far as policy is concerned.
public enum Action: String, Sendable, Equatable {
    case listBuckets, createBucket, deleteBucket, readBucket
    case listObjects, readObject, writeObject, deleteObject
}

/// A resource an action touches. Keys are full object keys within the bucket.
public struct Resource: Sendable, Equatable {
    public var bucket: String?
    /// An object key, or a listing prefix for ``Action/listObjects``.
    public var key: String?
    public init(bucket: String?, key: String?) {
        self.bucket = bucket
        self.key = key
    }
}

/// Proof that policy allowed an action; handlers take one, so no handler can skip the check.
public struct Grant: Sendable, Equatable {
    public let principal: Principal
    public let action: Action
    public let resource: Resource
    fileprivate init(principal: Principal, action: Action, resource: Resource) {
        self.principal = principal
        self.action = action
        self.resource = resource
    }
}

/// A refusal. The reason is for logs only; clients see `AccessDenied`.
public struct Denial: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Pure access decisions: (principal, action, resource) → grant or denial. No I/O.
public struct AccessPolicy: Sendable {
    /// Creates the policy.
    public init() {}

    /// Decides one action on one resource.
    /// - Throws: ``Denial`` when the principal may not act.
    public func authorize(_ principal: Principal, _ action: Action, _ resource: Resource) throws(Denial) -> Grant {
        switch principal {
        case .anonymous:
            throw Denial(reason: "anonymous requests are refused")
        case .root:
            return Grant(principal: principal, action: action, resource: resource)
        case .tenant(let tenant):
            switch action {
            case .createBucket, .deleteBucket:
                throw Denial(reason: "only root creates and deletes buckets (tenant \(tenant.name))")
            case .listBuckets:
                return Grant(principal: principal, action: action, resource: resource)
            case .readBucket, .listObjects, .readObject, .writeObject, .deleteObject:
                if let bucket = resource.bucket, !tenant.buckets.isEmpty, !tenant.buckets.contains(bucket) {
                    throw Denial(reason: "tenant \(tenant.name) has no access to bucket \(bucket)")
                }
                if action != .readBucket {
                    let key = resource.key ?? ""
                    // Keys compare as bytes, never as canonically-equivalent Unicode.
                    guard key.utf8.starts(with: tenant.prefix.utf8) else {
                        throw Denial(reason: "key outside tenant \(tenant.name)'s prefix \(tenant.prefix)")
                    }
                }
                return Grant(principal: principal, action: action, resource: resource)
            }
        }
    }
}
