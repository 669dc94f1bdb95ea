import Foundation
import VariantEngine

/// The variant sections of the config file: `presets`, `watermark`, `variants`.
///
/// ```yaml
/// presets:                       # added to SPEC §6's presets; a same-named one replaces it
///   - { name: square-200, width: 200 }
///   - { name: watermarked, longestEdge: 1600, watermarked: true }
/// watermark: { text: "© Trips Inc.", font: "DejaVu Sans Bold" }
/// variants: { prewarm: [thumb-400.jpg, main_mobile.webp], queueBound: 32, threads: 2, avifEffort: 2 }
/// ```
struct VariantConfiguration {
    var presets = VariantPreset.defaults
    var watermarkText: String?
    var watermarkFont = "DejaVu Sans Bold"
    var prewarm: [String] = []
    var queueBound = 32
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var encoder = EncoderSettings()

    /// Reads the sections; the defaults when there is no file.
    /// - Throws: ``SettingsError`` naming the first invalid entry.
    static func load(_ path: String?) throws -> VariantConfiguration {
        var result = VariantConfiguration()
        guard let path else { return result }
        let root = try ConfigFile.sections(path)
        if let presets = root["presets"] {
            guard let list = presets as? [[String: Any]] else { throw SettingsError("presets in \(path) must be a list of mappings") }
            for (index, entry) in list.enumerated() {
                let place = "presets[\(index)] in \(path)"
                try ConfigFile.refuseUnknown(entry, allowed: ["name", "width", "longestEdge", "watermarked"], where: place)
                guard let name = entry["name"] as? String, !name.isEmpty, !name.contains("/"), !name.contains("."), name != "original" else {
                    throw SettingsError("\(place) needs a name without '/' or '.' (and not 'original')")
                }
                let sizing: VariantPreset.Sizing
                switch (entry["width"] as? Int, entry["longestEdge"] as? Int) {
                case (let width?, nil) where (1...10_000).contains(width): sizing = .width(width)
                case (nil, let edge?) where (1...10_000).contains(edge): sizing = .longestEdge(edge)
                default: throw SettingsError("\(place) needs either width or longestEdge (1...10000)")
                }
                let preset = VariantPreset(name: name, sizing: sizing, watermarked: entry["watermarked"] as? Bool ?? false)
                result.presets.removeAll { $0.name == name }
                result.presets.append(preset)
            }
        }
        if let watermark = root["watermark"] {
            guard let map = watermark as? [String: Any] else { throw SettingsError("watermark in \(path) must be a mapping") }
            try ConfigFile.refuseUnknown(map, allowed: ["text", "font"], where: "watermark in \(path)")
            result.watermarkText = map["text"] as? String
            if let font = map["font"] as? String { result.watermarkFont = font }
        }
        if let variants = root["variants"] {
            guard let map = variants as? [String: Any] else { throw SettingsError("variants in \(path) must be a mapping") }
            try ConfigFile.refuseUnknown(map, allowed: ["prewarm", "queueBound", "threads", "avifEffort"], where: "variants in \(path)")
            if let prewarm = map["prewarm"] {
                guard let names = prewarm as? [String] else { throw SettingsError("variants.prewarm must be a list of names like thumb-400.jpg") }
                for name in names where VariantAddress.parse(name, presets: result.presets) == nil {
                    throw SettingsError("variants.prewarm: '\(name)' is not <preset>.<jpg|webp|avif|png>")
                }
                result.prewarm = names
            }
            if let value = map["queueBound"] as? Int { result.queueBound = value }
            if let value = map["threads"] as? Int { result.threads = value }
            if let value = map["avifEffort"] as? Int {
                guard (0...9).contains(value) else { throw SettingsError("variants.avifEffort must be 0...9") }
                result.encoder.avifEffort = value
            }
            guard result.threads >= 1, result.queueBound >= result.threads else {
                throw SettingsError("variants: threads must be ≥ 1 and queueBound ≥ threads")
            }
        }
        return result
    }
}
