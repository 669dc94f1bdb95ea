import Foundation
import Policy

/// The policy sections of the config file: `rules`, `tenants`, `rateLimits`, `shareLinks`.
struct PolicyConfiguration {
    var rules: [PolicyRule] = []
    var tenants: [ConfiguredTenant] = []
    var uploadURLsPerMinute: Int?
    var shareLinkMaxTTL: Int?
    var shareLinkDefaultTTL: Int?

    /// A tenant the config file declares; created at start when missing.
    struct ConfiguredTenant {
        var name: String
        var prefix: String
        var buckets: [String]
        var accessKey: String?
        var secretKey: String?
    }

    /// Reads the sections from a YAML or JSON file; none when there is no file.
    /// - Throws: ``SettingsError`` naming the first invalid entry.
    static func load(_ path: String?) throws -> PolicyConfiguration {
        var result = PolicyConfiguration()
        guard let path else { return result }
        let root = try ConfigFile.sections(path)
        if let rules = root["rules"] {
            guard let list = rules as? [[String: Any]] else { throw SettingsError("rules in \(path) must be a list of mappings") }
            result.rules = try list.enumerated().map { index, entry in try rule(entry, where: "rules[\(index)] in \(path)") }
        }
        if let tenants = root["tenants"] {
            guard let list = tenants as? [[String: Any]] else { throw SettingsError("tenants in \(path) must be a list of mappings") }
            result.tenants = try list.enumerated().map { index, entry in
                let place = "tenants[\(index)] in \(path)"
                try ConfigFile.refuseUnknown(entry, allowed: ["name", "prefix", "buckets", "accessKey", "secretKey"], where: place)
                guard let name = entry["name"] as? String, let prefix = entry["prefix"] as? String else {
                    throw SettingsError("\(place) needs name and prefix")
                }
                let accessKey = entry["accessKey"] as? String, secretKey = entry["secretKey"] as? String
                guard (accessKey == nil) == (secretKey == nil) else { throw SettingsError("\(place): accessKey and secretKey go together") }
                return ConfiguredTenant(name: name, prefix: prefix, buckets: entry["buckets"] as? [String] ?? [], accessKey: accessKey, secretKey: secretKey)
            }
        }
        if let limits = root["rateLimits"] {
            guard let map = limits as? [String: Any] else { throw SettingsError("rateLimits in \(path) must be a mapping") }
            try ConfigFile.refuseUnknown(map, allowed: ["uploadUrlsPerMinute"], where: "rateLimits in \(path)")
            result.uploadURLsPerMinute = try integer(map["uploadUrlsPerMinute"], "rateLimits.uploadUrlsPerMinute")
        }
        if let links = root["shareLinks"] {
            guard let map = links as? [String: Any] else { throw SettingsError("shareLinks in \(path) must be a mapping") }
            try ConfigFile.refuseUnknown(map, allowed: ["maxTTL", "defaultTTL"], where: "shareLinks in \(path)")
            result.shareLinkMaxTTL = try integer(map["maxTTL"], "shareLinks.maxTTL")
            result.shareLinkDefaultTTL = try integer(map["defaultTTL"], "shareLinks.defaultTTL")
        }
        return result
    }

    private static func rule(_ entry: [String: Any], where place: String) throws -> PolicyRule {
        try ConfigFile.refuseUnknown(entry, allowed: ["pattern", "consent", "contentTypes", "maxSize", "presignMaxTTL"], where: place)
        guard let patternText = entry["pattern"] as? String else { throw SettingsError("\(place) needs a pattern") }
        do {
            var rule = PolicyRule(pattern: try KeyPattern(patternText))
            if let consent = entry["consent"] {
                guard let map = consent as? [String: Any], let purpose = map["purpose"] as? String, let subject = map["subject"] as? String else {
                    throw SettingsError("\(place): consent needs purpose and subject (the name of a capture)")
                }
                rule.consent = ConsentRequirement(purpose: purpose, subjectCapture: subject)
            }
            if let types = entry["contentTypes"] {
                let names = (types as? [String]) ?? (types as? String).map { [$0] }
                guard let names else { throw SettingsError("\(place): contentTypes must be a list or \"any\"") }
                rule.contentTypes = try ContentTypeSet(names: names)
            }
            if let size = entry["maxSize"] { rule.maxSize = try byteSize(size, where: place) }
            if let ttl = entry["presignMaxTTL"] {
                guard let map = ttl as? [String: Any] else { throw SettingsError("\(place): presignMaxTTL must be a mapping {GET, PUT}") }
                try ConfigFile.refuseUnknown(map, allowed: ["GET", "PUT"], where: "\(place) presignMaxTTL")
                rule.presignMaxGET = try integer(map["GET"], "\(place) presignMaxTTL.GET") ?? rule.presignMaxGET
                rule.presignMaxPUT = try integer(map["PUT"], "\(place) presignMaxTTL.PUT") ?? rule.presignMaxPUT
            }
            try rule.validate()
            return rule
        } catch let error as PolicyConfigurationError {
            throw SettingsError("\(place): \(error.description)")
        }
    }

    /// `15MB`, `200 MB`, `5TB` (powers of 1000), or a number of bytes.
    static func byteSize(_ value: Any, where place: String) throws -> Int64 {
        if let number = value as? Int { return Int64(number) }
        guard let text = (value as? String)?.uppercased().replacingOccurrences(of: " ", with: "") else {
            throw SettingsError("\(place): maxSize must be a number of bytes or like 15MB")
        }
        let units: [(String, Int64)] = [("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let number = Int64(text.dropLast(suffix.count)) else { break }
            return number * factor
        }
        if let number = Int64(text) { return number }
        throw SettingsError("\(place): maxSize '\(text)' is not a size like 15MB")
    }

    private static func integer(_ value: Any?, _ name: String) throws -> Int? {
        guard let value else { return nil }
        guard let number = value as? Int else { throw SettingsError("\(name) must be a whole number") }
        return number
    }
}
