import ArgumentParser
import DiskStorage
import Foundation
import GatewayCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import S3Facade
import SQLiteMetadata
import PolicyStore
import SigV4
import Storage
import VariantEngine
import UpstreamStorage

/// `mediagate serve`: runs the gateway.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the gateway.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("listen"), help: "HOST:PORT to serve S3 and the control API on. Default: 127.0.0.1:9000")
    var listen: String?

    @Option(name: .customLong("storage"), help: "disk or s3. Default: disk")
    var storage: String?

    @Option(name: .customLong("domain"), help: "Enables virtual-host-style addressing (BUCKET.NAME).")
    var domain: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate: serve HTTPS.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("upstream-endpoint")) var upstreamEndpoint: String?
    @Option(name: .customLong("upstream-region")) var upstreamRegion: String?
    @Option(name: .customLong("upstream-access-key")) var upstreamAccessKey: String?
    @Option(name: .customLong("upstream-secret-key")) var upstreamSecretKey: String?

    func flags() -> [String: String] {
        let pairs: [(String, String?)] = [
            ("listen", listen), ("data-dir", common.dataDir), ("metadata", common.metadata), ("storage", storage),
            ("region", common.region), ("domain", domain), ("tls-cert", tlsCert), ("tls-key", tlsKey),
            ("upstream-endpoint", upstreamEndpoint), ("upstream-region", upstreamRegion),
            ("upstream-access-key", upstreamAccessKey), ("upstream-secret-key", upstreamSecretKey),
        ]
        return pairs.reduce(into: [:]) { result, pair in
            if let value = pair.1 { result[pair.0] = value }
        }
    }

    func run() async throws {
        // libvips first, before the server's threads exist (it also caps malloc arenas at 2).
        guard VariantPipeline.startLibvips() else { throw SettingsError("libvips did not start") }
        let environment = ProcessInfo.processInfo.environment
        let settings = try Settings.resolve(configPath: common.config, environment: environment, flags: flags())
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label) }
        var logger = Logger(label: "mediagate")
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        try FileManager.default.createDirectory(atPath: settings.dataDir, withIntermediateDirectories: true)
        let lock = try DataDirectoryLock(dataDirectory: settings.dataDir)
        let secrets = try Secrets.load(dataDir: settings.dataDir, environment: environment)
        if secrets.generated {
            // Printed once, on the start that created them; never logged.
            print("mediagate: generated credentials, stored in \(settings.dataDir)/secrets (mode 0600)")
            print("  root access key: \(secrets.rootAccessKey)")
            print("  root secret key: \(secrets.rootSecretKey)")
            print("  admin token:     \(secrets.adminToken)")
            fflush(nil)  // stdout to a pipe is block-buffered: show them now, not at exit
        }

        let backends = try await StorageFactory.makeBackends(settings: settings, logger: logger)
        let policyConfiguration = try PolicyConfiguration.load(settings.configFile)
        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.region = settings.region
        gatewayConfiguration.domain = settings.domain
        gatewayConfiguration.scheme = settings.tlsCert == nil ? "http" : "https"
        gatewayConfiguration.rules = policyConfiguration.rules
        if let value = policyConfiguration.uploadURLsPerMinute { gatewayConfiguration.uploadURLsPerMinute = value }
        if let value = policyConfiguration.shareLinkMaxTTL { gatewayConfiguration.shareLinkMaxTTL = value }
        if let value = policyConfiguration.shareLinkDefaultTTL {
            gatewayConfiguration.shareLinkDefaultTTL = value
        } else {
            gatewayConfiguration.shareLinkDefaultTTL = min(gatewayConfiguration.shareLinkDefaultTTL, gatewayConfiguration.shareLinkMaxTTL)
        }
        try gatewayConfiguration.validate()
        try await TenantCommand.seed(policyConfiguration.tenants, into: backends.policy, logger: logger)

        let continueRegistry = ContinueRegistry()
        let metrics = GatewayMetrics()
        let variantConfiguration = try VariantConfiguration.load(settings.configFile)
        gatewayConfiguration.watermarkText = variantConfiguration.watermarkText
        let workers = VariantWorkers(threads: variantConfiguration.threads, queueBound: variantConfiguration.queueBound)
        let variants = VariantService(
            store: backends.objects,
            pipeline: VariantPipeline(encoder: variantConfiguration.encoder, watermarkFont: variantConfiguration.watermarkFont),
            workers: workers, presets: variantConfiguration.presets, prewarm: variantConfiguration.prewarm,
            events: metrics.variantEvents)
        let root = SigV4Credentials(accessKeyID: secrets.rootAccessKey, secretAccessKey: secrets.rootSecretKey)
        let gateway = S3Gateway(
            configuration: gatewayConfiguration, store: backends.objects,
            credentials: DirectoryCredentialProvider(root: root, store: backends.policy),
            policyStore: backends.policy, control: ControlAccess(adminToken: secrets.adminToken, root: root),
            continueRegistry: continueRegistry, variants: variants,
            mediaInfo: MediaInfoService(store: backends.objects, records: backends.media, workers: workers),
            metrics: metrics, logger: logger)
        let (host, port) = try settings.listenAddress()
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: [ReceiveBufferHandler(), ExpectContinueHandler(registry: continueRegistry)],
                idleTimeout: .seconds(300)),
            quietBelow: 2,
            immediate: gateway,
            // A file goes out with sendfile, which TLS cannot take.
            sendsFiles: settings.tlsCert == nil)
        let server: HTTPServerBuilder
        if let cert = settings.tlsCert, let key = settings.tlsKey {
            let certificates = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(privateKey))
            server = try .tls(http1, tlsConfiguration: tls)
        } else {
            server = http1
        }
        let scheme = settings.tlsCert == nil ? "http" : "https"
        let startupLogger = logger
        let app = Application(
            responder: gateway,
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let actual = channel.localAddress?.port ?? port
                startupLogger.info("mediagate listening", metadata: ["url": "\(scheme)://\(host):\(actual)", "data_dir": "\(settings.dataDir)", "storage": "\(settings.storage)"])
            },
            logger: logger
        )
        try await app.runService()
        try await workers.shutdown()
        if let upstream = backends.objects as? UpstreamObjectStore { try? await upstream.shutdown() }
        backends.pool?.cancel()
        withExtendedLifetime(lock) {}
    }
}
