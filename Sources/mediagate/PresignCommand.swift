import ArgumentParser
import Foundation
import GatewayCore
import Policy
import PolicyStore
import SigV4

/// `mediagate presign GET|PUT s3://BUCKET/KEY`: prints a presigned URL made with the root key
/// or a tenant's key, within the TTL cap of the key's rule.
struct PresignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "presign", abstract: "Print a presigned URL.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "GET or PUT") var method: String
    @Argument(help: "s3://BUCKET/KEY") var target: String

    @Option(name: .customLong("expires"), help: "Lifetime in seconds, at most the rule's cap. Default: 900 for GET, 600 for PUT")
    var expires: Int?

    @Option(name: .customLong("endpoint"), help: "Base URL of the gateway. Default: from --listen / settings (http://HOST:PORT)")
    var endpoint: String?

    @Option(name: .customLong("listen")) var listen: String?

    @Option(name: .customLong("tenant"), help: "Sign with this tenant's key (the URL is bound by its prefix).")
    var tenant: String?

    func run() async throws {
        let upper = method.uppercased()
        guard upper == "GET" || upper == "PUT" else { throw ValidationError("method must be GET or PUT") }
        guard target.hasPrefix("s3://") else { throw ValidationError("target must be s3://BUCKET/KEY") }
        let path = target.dropFirst(5)
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw ValidationError("target must be s3://BUCKET/KEY")
        }
        let bucket = String(path[..<slash])
        let key = String(path[path.index(after: slash)...])
        let environment = ProcessInfo.processInfo.environment
        var extra: [String: String] = [:]
        if let listen { extra["listen"] = listen }
        let settings = try common.settings(extra: extra)
        let secrets = try Secrets.load(dataDir: settings.dataDir, environment: environment)

        // The URL must pass the same rules the gateway applies when it is used.
        let (store, _) = try await StorageFactory.openPolicyStore(settings: settings)
        let tenants = try await store.tenants()
        let policy = AccessPolicy(rules: try PolicyConfiguration.load(settings.configFile).rules)
        let rule = policy.classify(key: key, tenants: tenants.map(\.scope)).rule
        let cap = upper == "GET" ? rule.presignMaxGET : rule.presignMaxPUT
        let lifetime = expires ?? min(upper == "GET" ? 900 : 600, cap)
        guard (1...cap).contains(lifetime) else {
            throw ValidationError("--expires must be 1...\(cap) for this key (rule '\(rule.pattern)')")
        }
        var credentials = SigV4Credentials(accessKeyID: secrets.rootAccessKey, secretAccessKey: secrets.rootSecretKey)
        if let tenant {
            guard let record = tenants.first(where: { $0.name == tenant }) else { throw CommandFailure("no tenant named \(tenant)") }
            guard key.utf8.starts(with: record.prefix.utf8) else {
                throw CommandFailure("key \(key) is outside tenant \(tenant)'s prefix \(record.prefix)")
            }
            guard let id = try await store.accessKeyIDs(ofTenant: tenant).first, let found = try await store.accessKey(id: id) else {
                throw CommandFailure("tenant \(tenant) has no access key")
            }
            credentials = SigV4Credentials(accessKeyID: found.key.accessKeyID, secretAccessKey: found.key.secretAccessKey)
        }

        let base: String
        if let endpoint {
            base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        } else {
            let (host, port) = try settings.listenAddress()
            base = "\(settings.tlsCert == nil ? "http" : "https")://\(host):\(port)"
        }
        guard let components = URLComponents(string: base), let host = components.host, let scheme = components.scheme else {
            throw ValidationError("--endpoint must be a URL like http://127.0.0.1:9000")
        }
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let signer = SigV4Signer(credentials: credentials, region: settings.region)
        print(signer.presignedURL(method: upper, scheme: scheme, host: hostHeader, bucket: bucket, key: key, expires: lifetime, date: Date()))
    }
}
