import Foundation
import Yams

/// The gateway's settings after merging flags > environment (`MEDIAGATE_<NAME>`) > config file
/// > defaults (SPEC §2).
struct Settings: Sendable, Equatable {
    var listen = "127.0.0.1:9000"
    var dataDir = "./data"
    var metadata: String?
    var storage = "disk"
    var region = "us-east-1"
    var domain: String?
    var tlsCert: String?
    var tlsKey: String?
    var upstreamEndpoint: String?
    var upstreamRegion: String?
    var upstreamAccessKey: String?
    var upstreamSecretKey: String?
    /// The config file the settings came from, if any.
    var configFile: String?

    /// The metadata URL, defaulting to the SQLite file in the data dir.
    var metadataURL: String { metadata ?? "sqlite:\(dataDir)/mediagate.db" }

    /// Setting names as they appear in flags, config keys and (upper-cased, `_` for `-`)
    /// environment variables.
    static let names = [
        "listen", "data-dir", "metadata", "storage", "region", "domain", "tls-cert", "tls-key",
        "upstream-endpoint", "upstream-region", "upstream-access-key", "upstream-secret-key",
    ]

    mutating func set(_ name: String, _ value: String) {
        switch name {
        case "listen": listen = value
        case "data-dir": dataDir = value
        case "metadata": metadata = value
        case "storage": storage = value
        case "region": region = value
        case "domain": domain = value
        case "tls-cert": tlsCert = value
        case "tls-key": tlsKey = value
        case "upstream-endpoint": upstreamEndpoint = value
        case "upstream-region": upstreamRegion = value
        case "upstream-access-key": upstreamAccessKey = value
        case "upstream-secret-key": upstreamSecretKey = value
        default: break
        }
    }

    /// Merges the layers. `flags` holds only the flags given on the command line.
    /// - Throws: ``SettingsError`` for an unreadable config file or an unknown key in it.
    static func resolve(configPath: String?, environment: [String: String], flags: [String: String]) throws -> Settings {
        var settings = Settings()
        let path = configPath ?? environment["MEDIAGATE_CONFIG"]
        if let path {
            for (name, value) in try loadFile(path) { settings.set(name, value) }
            settings.configFile = path
        }
        for name in names {
            if let value = environment["MEDIAGATE_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] {
                settings.set(name, value)
            }
        }
        for (name, value) in flags { settings.set(name, value) }
        try settings.validate()
        return settings
    }

    /// Reads the scalar settings of a YAML or JSON file (JSON is read as YAML).
    static func loadFile(_ path: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SettingsError("cannot read config file \(path): \(error.localizedDescription)")
        }
        guard let root = try Yams.load(yaml: text) else { return [:] }
        guard let mapping = root as? [String: Any] else {
            throw SettingsError("config file \(path) must hold a mapping of settings")
        }
        var values: [String: String] = [:]
        // Sections other than scalar settings: policy ones are read by PolicyConfiguration,
        // variant ones by the variant engine's configuration.
        let sections: Set<String> = ["tenants", "rules", "rateLimits", "shareLinks", "variants", "presets", "watermark"]
        for (rawKey, value) in mapping {
            let key = rawKey.replacingOccurrences(of: "_", with: "-")
            if sections.contains(key) { continue }
            guard names.contains(key) else { throw SettingsError("unknown setting '\(rawKey)' in \(path)") }
            switch value {
            case let text as String: values[key] = text
            case let number as Int: values[key] = String(number)
            default: throw SettingsError("setting '\(rawKey)' in \(path) must be a string")
            }
        }
        return values
    }

    /// Host and port of `listen`.
    func listenAddress() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw SettingsError("listen must be HOST:PORT, got '\(listen)'") }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    func validate() throws {
        _ = try listenAddress()
        guard storage == "disk" || storage == "s3" else { throw SettingsError("storage must be disk or s3, got '\(storage)'") }
        if (tlsCert == nil) != (tlsKey == nil) { throw SettingsError("tls-cert and tls-key go together") }
    }
}

/// A setting that cannot be used.
struct SettingsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
