import Foundation
import SigV4

/// Where the upstream S3-compatible store is and how the gateway talks to it.
public struct UpstreamConfiguration: Sendable {
    /// `http` or `https`.
    public var scheme: String
    public var host: String
    public var port: Int
    /// The region in the SigV4 scope (`auto` for Cloudflare R2).
    public var region: String
    /// The gateway's own upstream credentials; clients' keys never go upstream.
    public var credentials: SigV4Credentials
    /// Where uploads are staged when their SHA-256 must be known before sending (plain HTTP).
    public var spoolDirectory: String
    /// Attempts for idempotent requests (reads, lists, heads, deletes) before giving up.
    public var attempts: Int = 3
    /// Pause before the second attempt; doubled for each further one.
    public var retryDelay: Duration = .milliseconds(100)
    public var connectTimeout: Duration = .seconds(5)
    /// Longest silence while reading a response or writing a body.
    public var ioTimeout: Duration = .seconds(60)
    /// Bodies up to this size are staged in memory rather than in a file.
    public var memorySpoolLimit: Int = 1 << 20

    /// - Parameter endpoint: `http://host:port` or `https://host[:port]`; no path.
    /// - Throws: ``UpstreamConfigurationError`` for anything else.
    public init(endpoint: String, region: String, credentials: SigV4Credentials, spoolDirectory: String) throws(UpstreamConfigurationError) {
        guard let components = URLComponents(string: endpoint), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw UpstreamConfigurationError("the upstream endpoint must be http://HOST[:PORT] or https://HOST[:PORT], not \(endpoint)") }
        guard components.path.isEmpty || components.path == "/", components.query == nil else {
            throw UpstreamConfigurationError("the upstream endpoint must not have a path or query: \(endpoint)")
        }
        guard !credentials.accessKeyID.isEmpty, !credentials.secretAccessKey.isEmpty else {
            throw UpstreamConfigurationError("--storage s3 needs --upstream-access-key and --upstream-secret-key")
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
        self.region = region
        self.credentials = credentials
        self.spoolDirectory = spoolDirectory
    }

    /// Whether the connection is TLS (bodies may then go as `UNSIGNED-PAYLOAD`).
    public var isTLS: Bool { scheme == "https" }

    /// The `Host` header value.
    var hostHeader: String {
        let isDefaultPort = (scheme == "https" && port == 443) || (scheme == "http" && port == 80)
        let name = host.contains(":") ? "[\(host)]" : host
        return isDefaultPort ? name : "\(name):\(port)"
    }

    /// The endpoint as a URL prefix, without a trailing slash.
    var origin: String { "\(scheme)://\(hostHeader)" }
}

/// A bad upstream setting (reported at start-up).
public struct UpstreamConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
