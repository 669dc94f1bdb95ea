/// Where a variant and its source live: `<dir>/<preset>.<format>` and `<dir>/original.<ext>`.
public struct VariantAddress: Sendable, Equatable {
    /// Everything up to and including the last `/` (empty for a top-level key).
    public var directory: String
    public var preset: VariantPreset
    public var format: VariantFormat

    /// The variant's key.
    public var key: String { directory + preset.name + "." + format.rawValue }

    /// Extensions a source may have (SPEC §6), in the order they are looked for.
    public static let sourceExtensions = ["jpg", "jpeg", "png", "webp", "avif", "heic", "heif", "gif", "tif", "tiff"]

    /// The variant address of a key, or nil when its last segment is not `<preset>.<format>`.
    public static func parse(_ key: String, presets: [VariantPreset]) -> VariantAddress? {
        let (directory, name) = split(key)
        guard let dot = name.lastIndex(of: ".") else { return nil }
        guard let format = VariantFormat(rawValue: String(name[name.index(after: dot)...])) else { return nil }
        let presetName = String(name[..<dot])
        guard let preset = presets.first(where: { $0.name == presetName }) else { return nil }
        return VariantAddress(directory: directory, preset: preset, format: format)
    }

    /// Whether a key names a source (`…/original.<ext>`); returns its directory.
    public static func sourceDirectory(of key: String) -> String? {
        let (directory, name) = split(key)
        guard name.hasPrefix("original.") else { return nil }
        return sourceExtensions.contains(String(name.dropFirst("original.".count))) ? directory : nil
    }

    /// Every variant key of a source directory.
    public static func variantKeys(in directory: String, presets: [VariantPreset]) -> [String] {
        presets.flatMap { preset in VariantFormat.allCases.map { directory + preset.name + "." + $0.rawValue } }
    }

    static func split(_ key: String) -> (directory: String, name: String) {
        guard let slash = key.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", key) }
        return (String(key[...slash]), String(key[key.index(after: slash)...]))
    }
}
