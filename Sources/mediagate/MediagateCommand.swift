import ArgumentParser
import Foundation

/// `mediagate`: an S3-compatible storage gateway for media.
@main
struct MediagateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mediagate",
        abstract: "An S3-compatible storage gateway for media.",
        subcommands: [ServeCommand.self, TenantCommand.self, ConsentCommand.self, PresignCommand.self],
        defaultSubcommand: nil
    )
}

/// Options shared by every command that opens the gateway's data.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "YAML or JSON configuration file.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Objects (disk storage) and the SQLite database. Default: ./data")
    var dataDir: String?

    @Option(name: .customLong("metadata"), help: "sqlite:PATH (default sqlite:<data-dir>/mediagate.db).")
    var metadata: String?

    @Option(name: .customLong("region"), help: "Region used in the SigV4 scope. Default: us-east-1")
    var region: String?
}

extension CommonOptions {
    /// The settings these options (and the environment and config file) resolve to.
    /// - Throws: ``SettingsError``.
    func settings(extra: [String: String] = [:]) throws -> Settings {
        var flags = extra
        if let dataDir { flags["data-dir"] = dataDir }
        if let metadata { flags["metadata"] = metadata }
        if let region { flags["region"] = region }
        return try Settings.resolve(configPath: config, environment: ProcessInfo.processInfo.environment, flags: flags)
    }
}

/// A command that could not do its work (printed as `Error: …`, exit status 1, without usage).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
