import ArgumentParser
import Foundation
import GatewayCore
import SigV4

/// `mediagate presign GET|PUT s3://BUCKET/KEY`: prints a presigned URL made with the root key.
struct PresignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "presign", abstract: "Print a presigned URL.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "GET or PUT") var method: String
    @Argument(help: "s3://BUCKET/KEY") var target: String

    @Option(name: .customLong("expires"), help: "Lifetime in seconds (at most 604800). Default: 900 for GET, 600 for PUT")
    var expires: Int?

    @Option(name: .customLong("endpoint"), help: "Base URL of the gateway. Default: from --listen / settings (http://HOST:PORT)")
    var endpoint: String?

    @Option(name: .customLong("listen")) var listen: String?

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
        let lifetime = expires ?? (upper == "GET" ? 900 : 600)
        guard (1...604_800).contains(lifetime) else { throw ValidationError("--expires must be 1...604800") }

        let environment = ProcessInfo.processInfo.environment
        var flags: [String: String] = [:]
        if let dataDir = common.dataDir { flags["data-dir"] = dataDir }
        if let region = common.region { flags["region"] = region }
        if let listen { flags["listen"] = listen }
        let settings = try Settings.resolve(configPath: common.config, environment: environment, flags: flags)
        let secrets = try Secrets.load(dataDir: settings.dataDir, environment: environment)

        let base: String
        if let endpoint {
            base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        } else {
            let (host, port) = try settings.listenAddress()
            base = "\(settings.tlsCert == nil ? "http" : "https")://\(host):\(port)"
        }
        guard let components = URLComponents(string: base), let host = components.host else {
            throw ValidationError("--endpoint must be a URL like http://127.0.0.1:9000")
        }
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let rawPath = "/" + PercentEncoding.encode(bucket, encodeSlash: true) + "/" + PercentEncoding.encode(key, encodeSlash: false)
        let signer = SigV4Signer(
            credentials: SigV4Credentials(accessKeyID: secrets.rootAccessKey, secretAccessKey: secrets.rootSecretKey),
            region: settings.region)
        let query = signer.presignedQuery(method: upper, host: hostHeader, rawPath: rawPath, rawQuery: "", expires: lifetime, date: Date())
        print("\(base)\(rawPath)?\(query)")
    }
}
