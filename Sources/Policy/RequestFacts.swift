import Foundation

/// A tenant's name and key prefix: enough to find the tenant that owns a key.
public struct TenantScope: Sendable, Equatable, Hashable {
    public var name: String
    public var prefix: String

    /// Creates a scope.
    public init(name: String, prefix: String) {
        self.name = name
        self.prefix = prefix
    }
}

/// Names one consent: the subject, the purpose, and the tenant whose keys it covers (nil for
/// keys outside every tenant's prefix).
public struct ConsentKey: Sendable, Hashable, CustomStringConvertible {
    public var tenant: String?
    public var subject: String
    public var purpose: String

    /// Creates a key.
    public init(tenant: String?, subject: String, purpose: String) {
        self.tenant = tenant
        self.subject = subject
        self.purpose = purpose
    }

    public var description: String { "\(tenant ?? "-")/\(subject)/\(purpose)" }
}

/// A recorded consent's term.
public struct ConsentTerm: Sendable, Equatable {
    /// When the consent ends; nil for no end (until revoked).
    public var until: Date?

    /// Creates a term.
    public init(until: Date?) { self.until = until }

    /// Whether the consent is in force at `now`.
    public func isActive(at now: Date) -> Bool { until.map { $0 > now } ?? true }
}

/// How a request was authenticated by a presigned URL.
public struct PresignedFacts: Sendable, Equatable {
    /// The HTTP method of the request (`GET`, `PUT`, …).
    public var method: String
    /// `X-Amz-Expires`, in seconds.
    public var expires: Int

    /// Creates the facts.
    public init(method: String, expires: Int) {
        self.method = method
        self.expires = expires
    }
}

/// Everything besides the principal, action and resource that a decision depends on. The caller
/// gathers these (from the request and the metadata store); policy only reads them.
public struct RequestFacts: Sendable {
    /// The time of the decision.
    public var now: Date
    /// Every tenant's scope, to find the tenant that owns a key.
    public var tenants: [TenantScope]
    /// The recorded consents among those ``AccessPolicy/consentKeys(for:tenants:)`` named;
    /// a key missing here has no consent.
    public var consents: [ConsentKey: ConsentTerm]
    /// Set when the request came with a presigned URL.
    public var presigned: PresignedFacts?

    /// Creates facts.
    public init(now: Date, tenants: [TenantScope] = [], consents: [ConsentKey: ConsentTerm] = [:], presigned: PresignedFacts? = nil) {
        self.now = now
        self.tenants = tenants
        self.consents = consents
        self.presigned = presigned
    }
}
