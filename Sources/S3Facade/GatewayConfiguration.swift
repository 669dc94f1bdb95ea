import Foundation
import Policy

/// Settings of the S3 facade, with the defaults of SPEC §2.
public struct GatewayConfiguration: Sendable {
    /// Region used in the SigV4 credential scope.
    public var region: String = "us-east-1"
    /// Enables virtual-host-style addressing (`bucket.domain`) when set.
    public var domain: String?
    /// Largest accepted difference between a request's date and the server clock.
    public var maxClockSkew: TimeInterval = 900
    /// Longest lifetime of a presigned URL (seconds).
    public var maxPresignedExpiry: Int = 604_800
    /// Largest object accepted by a single PUT or part upload (S3: 5 GiB).
    public var maxUploadSize: Int64 = 5 * 1024 * 1024 * 1024
    /// Policy rules that come before the built-in defaults of SPEC §4.
    public var rules: [PolicyRule] = []
    /// Upload URLs the control API hands out per minute per (tenant, subject).
    public var uploadURLsPerMinute: Int = 30
    /// Default lifetime of a share link (seconds).
    public var shareLinkDefaultTTL: Int = 86_400
    /// Longest lifetime of a share link (seconds).
    public var shareLinkMaxTTL: Int = 604_800
    /// The text of watermarked variants; nil: `© <owning tenant name>`.
    public var watermarkText: String?
    /// The scheme clients reach the gateway with (`http` or `https`), for URLs the control API
    /// hands out.
    public var scheme: String = "http"

    /// Creates the default configuration.
    public init() {}

    /// Checks the values.
    /// - Throws: ``ConfigurationError`` naming the first invalid value.
    public func validate() throws {
        guard !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw ConfigurationError("region must be letters, digits and '-', got '\(region)'")
        }
        guard maxClockSkew > 0 else { throw ConfigurationError("maxClockSkew must be positive") }
        guard (1...604_800).contains(maxPresignedExpiry) else {
            throw ConfigurationError("maxPresignedExpiry must be 1...604800 seconds")
        }
        guard maxUploadSize > 0 else { throw ConfigurationError("maxUploadSize must be positive") }
        guard uploadURLsPerMinute > 0 else { throw ConfigurationError("rateLimits.uploadUrlsPerMinute must be positive") }
        guard (1...31_536_000).contains(shareLinkMaxTTL), (1...shareLinkMaxTTL).contains(shareLinkDefaultTTL) else {
            throw ConfigurationError("shareLinks: maxTTL must be 1...31536000 s and defaultTTL 1...maxTTL")
        }
        guard scheme == "http" || scheme == "https" else { throw ConfigurationError("scheme must be http or https") }
        for rule in rules {
            do { try rule.validate() } catch { throw ConfigurationError(error.description) }
        }
    }
}

/// An invalid configuration value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Looks up the secret and principal for an access key.
public protocol CredentialProvider: Sendable {
    /// The credential with this access key id, or nil when unknown.
    /// - Throws: when the lookup itself fails (database errors).
    func credential(for accessKeyID: String) async throws -> StoredCredential?
}

/// A ``CredentialProvider`` that can answer on the calling thread without suspending when it
/// already holds the answer (the event-loop read path, ``S3Gateway/immediateAnswer(to:)``).
public protocol ImmediateCredentials: Sendable {
    /// The credential, if at hand; nil also for an unknown id (the async lookup then decides).
    func credentialNow(for accessKeyID: String) -> StoredCredential?
}

/// A secret and who it authenticates.
public struct StoredCredential: Sendable {
    public var secretAccessKey: String
    public var principal: Principal
    public init(secretAccessKey: String, principal: Principal) {
        self.secretAccessKey = secretAccessKey
        self.principal = principal
    }
}

/// Credentials fixed at start-up (the root pair).
public struct StaticCredentialProvider: CredentialProvider, ImmediateCredentials {
    private let credentials: [String: StoredCredential]

    /// Creates a provider over a fixed set of credentials.
    public init(_ credentials: [String: StoredCredential]) {
        self.credentials = credentials
    }

    public func credential(for accessKeyID: String) async throws -> StoredCredential? {
        credentials[accessKeyID]
    }

    public func credentialNow(for accessKeyID: String) -> StoredCredential? {
        credentials[accessKeyID]
    }
}

import GatewayCore
