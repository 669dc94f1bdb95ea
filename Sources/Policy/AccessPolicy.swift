import Foundation
import GatewayCore

/// What a request wants to do, as far as policy is concerned.
public enum Action: String, Sendable, Equatable {
    case listBuckets, createBucket, deleteBucket, readBucket
    case listObjects, readObject, writeObject, deleteObject

    /// Whether the action touches one object key (rules, consent and TTL caps apply).
    var isObjectAction: Bool {
        switch self {
        case .readObject, .writeObject, .deleteObject: true
        default: false
        }
    }
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
    /// For object actions: the key's owner, rule and consent.
    public let classification: KeyClassification?

    /// For writes: what the content must satisfy.
    public var uploadLimits: UploadLimits? {
        guard action == .writeObject, let rule = classification?.rule else { return nil }
        return UploadLimits(contentTypes: rule.contentTypes, maxSize: rule.maxSize)
    }

    fileprivate init(principal: Principal, action: Action, resource: Resource, classification: KeyClassification?) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.classification = classification
    }
}

/// A refusal. The reason is for logs only; clients see `AccessDenied`.
public struct Denial: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Pure access decisions: (principal, action, resource, facts) → grant or denial. No I/O.
///
/// Decisions, in order: who may act at all (anonymous never; tenants only inside their prefix
/// and buckets, never on buckets themselves), then for object keys the first matching rule:
/// presigned-URL lifetime caps, then the rule's consent (for every action but delete, root
/// included).
public struct AccessPolicy: Sendable {
    /// The rules in matching order: configured ones first, then the built-in defaults.
    public let rules: [PolicyRule]

    /// Creates the policy.
    /// - Parameter rules: rules that come before ``PolicyRule/defaults``.
    public init(rules: [PolicyRule] = []) {
        self.rules = rules + PolicyRule.defaults
    }

    /// Classifies an object key: owner, rule, and required consent.
    public func classify(key: String, tenants: [TenantScope]) -> KeyClassification {
        // The tenant with the longest prefix of the key (the first of equals), without an array.
        var owner: TenantScope?
        for tenant in tenants where key.utf8.starts(with: tenant.prefix.utf8) {
            if tenant.prefix.utf8.count > owner?.prefix.utf8.count ?? -1 { owner = tenant }
        }
        let relative = owner.map { String(decoding: key.utf8.dropFirst($0.prefix.utf8.count), as: UTF8.self) } ?? key
        for rule in rules {
            guard let captures = rule.pattern.match(relative) else { continue }
            let consent = rule.consent.map {
                ConsentKey(tenant: owner?.name, subject: captures[$0.subjectCapture] ?? "", purpose: $0.purpose)
            }
            return KeyClassification(owner: owner, relativeKey: relative, rule: rule, captures: captures, consent: consent)
        }
        // The defaults end with `**`, which matches every key.
        preconditionFailure("no rule matched '\(relative)'; the built-in catch-all is missing")
    }

    /// The consents a decision on these keys will look at; the caller fetches them into
    /// ``RequestFacts/consents``.
    public func consentKeys(for keys: [String], tenants: [TenantScope]) -> [ConsentKey] {
        keys.compactMap { classify(key: $0, tenants: tenants).consent }
    }

    /// Decides one action on one resource.
    /// - Throws: ``Denial`` when the principal may not act.
    public func authorize(_ principal: Principal, _ action: Action, _ resource: Resource, facts: RequestFacts) throws(Denial) -> Grant {
        try checkPrincipal(principal, action, resource)
        guard action.isObjectAction, let key = resource.key else {
            if let presigned = facts.presigned {
                // Bucket-level requests get the caps of the catch-all rule.
                try checkLifetime(presigned, rule: classify(key: "", tenants: facts.tenants).rule, key: resource.key ?? "")
            }
            return Grant(principal: principal, action: action, resource: resource, classification: nil)
        }
        let classification = classify(key: key, tenants: facts.tenants)
        if let presigned = facts.presigned {
            try checkLifetime(presigned, rule: classification.rule, key: key)
        }
        if action != .deleteObject, let consent = classification.consent {
            // An empty subject (`selfies//x`) can never have a consent.
            guard !consent.subject.isEmpty, let term = facts.consents[consent], term.isActive(at: facts.now) else {
                throw Denial(reason: "no active consent \(consent) for \(action.rawValue) of '\(key)'")
            }
        }
        return Grant(principal: principal, action: action, resource: resource, classification: classification)
    }

    private func checkPrincipal(_ principal: Principal, _ action: Action, _ resource: Resource) throws(Denial) {
        switch principal {
        case .anonymous:
            throw Denial(reason: "anonymous requests are refused")
        case .root:
            return
        case .tenant(let tenant):
            switch action {
            case .createBucket, .deleteBucket:
                throw Denial(reason: "only root creates and deletes buckets (tenant \(tenant.name))")
            case .listBuckets:
                return
            case .readBucket, .listObjects, .readObject, .writeObject, .deleteObject:
                if let bucket = resource.bucket, !tenant.buckets.isEmpty, !tenant.buckets.contains(bucket) {
                    throw Denial(reason: "tenant \(tenant.name) has no access to bucket \(bucket)")
                }
                if action != .readBucket {
                    let key = resource.key ?? ""
                    // Keys compare as bytes, never as canonically-equivalent Unicode.
                    guard key.utf8.starts(with: tenant.prefix.utf8) else {
                        throw Denial(reason: "key '\(key)' outside tenant \(tenant.name)'s prefix \(tenant.prefix)")
                    }
                }
            }
        }
    }

    private func checkLifetime(_ presigned: PresignedFacts, rule: PolicyRule, key: String) throws(Denial) {
        let isRead = presigned.method == "GET" || presigned.method == "HEAD"
        let cap = isRead ? rule.presignMaxGET : rule.presignMaxPUT
        guard presigned.expires <= cap else {
            throw Denial(reason: "presigned \(presigned.method) of '\(key)' lives \(presigned.expires) s, over the \(cap) s cap of rule '\(rule.pattern)'")
        }
    }

    /// Whether a tenant may see a bucket in ListBuckets.
    public static func lists(_ principal: Principal, bucket: String) -> Bool {
        switch principal {
        case .root: true
        case .anonymous: false
        case .tenant(let tenant): tenant.buckets.isEmpty || tenant.buckets.contains(bucket)
        }
    }
}
