import Foundation
import Policy

/// A tenant as stored: name, key prefix and buckets (empty: any bucket).
public struct TenantRecord: Sendable, Equatable {
    public var name: String
    public var prefix: String
    public var buckets: [String]
    public var createdAt: Date

    /// Creates a record.
    public init(name: String, prefix: String, buckets: [String], createdAt: Date) {
        self.name = name
        self.prefix = prefix
        self.buckets = buckets
        self.createdAt = createdAt
    }

    /// The scope policy uses to find a key's owner.
    public var scope: TenantScope { TenantScope(name: name, prefix: prefix) }

    /// Checks a name and a prefix.
    /// - Throws: ``PolicyStoreError`` `.invalid` naming the problem.
    public func validate() throws(PolicyStoreError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
        guard let first = name.first, first.isLetter || first.isNumber, name.count <= 63, name.allSatisfy({ allowed.contains($0) }) else {
            throw PolicyStoreError(.invalid, "tenant name must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit")
        }
        guard prefix.hasSuffix("/"), prefix.count > 1, !prefix.hasPrefix("/") else {
            throw PolicyStoreError(.invalid, "prefix must be non-empty, end with '/' and not start with '/' (for example 'acme/')")
        }
        let segments = prefix.dropLast().split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw PolicyStoreError(.invalid, "prefix must not contain empty, '.' or '..' segments")
        }
    }
}

/// An access key pair and the tenant it authenticates.
public struct AccessKeyRecord: Sendable, Equatable {
    public var accessKeyID: String
    /// Stored as is: SigV4 needs the secret itself to check a signature.
    public var secretAccessKey: String
    public var tenant: String
    public var createdAt: Date

    /// Creates a record.
    public init(accessKeyID: String, secretAccessKey: String, tenant: String, createdAt: Date) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.tenant = tenant
        self.createdAt = createdAt
    }

    /// A new random pair for a tenant: a 20-character id starting `MG` and a 40-character secret.
    public static func generate(tenant: String, now: Date) -> AccessKeyRecord {
        AccessKeyRecord(
            accessKeyID: "MG" + RandomText.make(length: 18, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
            secretAccessKey: RandomText.make(length: 40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            tenant: tenant, createdAt: now)
    }
}

/// Who made a share link; the link reads with that principal's rights, checked on every use.
public enum ShareLinkCreator: Sendable, Equatable {
    case root
    case tenant(String)
}

/// A share link as stored: only the SHA-256 of its token.
public struct ShareLinkRecord: Sendable, Equatable {
    /// Lowercase hex SHA-256 of the token.
    public var tokenHash: String
    public var bucket: String
    public var key: String
    public var creator: ShareLinkCreator
    public var expiresAt: Date
    public var createdAt: Date

    /// Creates a record.
    public init(tokenHash: String, bucket: String, key: String, creator: ShareLinkCreator, expiresAt: Date, createdAt: Date) {
        self.tokenHash = tokenHash
        self.bucket = bucket
        self.key = key
        self.creator = creator
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// Uniform random text from the system CSPRNG.
public enum RandomText {
    /// `length` characters drawn uniformly from `alphabet`.
    public static func make(length: Int, alphabet: String) -> String {
        let characters = Array(alphabet)
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in characters[Int.random(in: 0..<characters.count, using: &generator)] })
    }
}

/// A failure of a policy store operation.
public struct PolicyStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A tenant with this name exists.
        case tenantExists
        /// The prefix overlaps another tenant's (one is a prefix of the other).
        case prefixOverlap
        /// No such tenant.
        case noSuchTenant
        /// A value is malformed.
        case invalid
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
