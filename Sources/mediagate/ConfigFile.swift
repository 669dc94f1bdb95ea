import Foundation
import Yams

/// Reading the sections of a YAML or JSON config file.
enum ConfigFile {
    /// The top-level mapping of a config file; empty when there is none.
    /// - Throws: ``SettingsError`` when the file cannot be read.
    static func sections(_ path: String?) throws -> [String: Any] {
        guard let path else { return [:] }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SettingsError("cannot read config file \(path): \(error.localizedDescription)")
        }
        return try Yams.load(yaml: text) as? [String: Any] ?? [:]
    }

    /// Refuses keys a section does not know (a misspelt key would silently do nothing).
    /// - Throws: ``SettingsError`` naming the first unknown key.
    static func refuseUnknown(_ map: [String: Any], allowed: Set<String>, where place: String) throws {
        if let unknown = map.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SettingsError("unknown key '\(unknown)' in \(place)")
        }
    }
}
