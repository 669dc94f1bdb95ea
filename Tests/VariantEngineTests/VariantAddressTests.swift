import Testing

@testable import VariantEngine

/// Variant and source keys (SPEC §6): `<dir>/<preset>.<format>` and `<dir>/original.<ext>`.
struct VariantAddressTests {
    struct ParseCase: Sendable, CustomTestStringConvertible {
        var key: String
        /// (directory, preset name, format), or nil when the key is not a variant key.
        var directory: String?
        var preset: String?
        var format: VariantFormat?
        var testDescription: String { key }

        static func variant(_ key: String, _ directory: String, _ preset: String, _ format: VariantFormat) -> ParseCase {
            ParseCase(key: key, directory: directory, preset: preset, format: format)
        }

        static func none(_ key: String) -> ParseCase {
            ParseCase(key: key, directory: nil, preset: nil, format: nil)
        }
    }

    static let parseCases: [ParseCase] = [
        .variant("photos/p1/thumb-400.jpg", "photos/p1/", "thumb-400", .jpg),
        .variant("thumb-400.jpg", "", "thumb-400", .jpg),
        .variant("a/b/main_desktop.avif", "a/b/", "main_desktop", .avif),
        .variant("a/watermarked.webp", "a/", "watermarked", .webp),
        .variant("a/thumbnail_small.png", "a/", "thumbnail_small", .png),
        .none("a/thumb-400.jpeg"),  // jpeg is a source extension, not a variant format
        .none("a/thumb-401.jpg"),
        .none("a/original.jpg"),
        .none("a/thumb-400.jpg/x"),
        .none("a/THUMB-400.jpg"),
        .none("a/thumb-400.JPG"),
        .none("a/thumb-400"),
        .none("a/thumb-400."),
        .none("a/"),
        .none(""),
    ]

    @Test("parse", arguments: parseCases)
    func parse(_ input: ParseCase) {
        let address = VariantAddress.parse(input.key, presets: VariantPreset.defaults)
        guard let directory = input.directory, let preset = input.preset, let format = input.format else {
            #expect(address == nil, "\(input.key) parsed as \(String(describing: address))")
            return
        }
        guard let address else {
            Issue.record("\(input.key) is a variant key")
            return
        }
        #expect(address.directory == directory)
        #expect(address.preset.name == preset)
        #expect(address.preset == VariantPreset.defaults.first { $0.name == preset })
        #expect(address.format == format)
        // The address names its key again.
        #expect(address.key == input.key)
    }

    @Test("only the given presets are variant names")
    func customPresets() {
        let only = [VariantPreset(name: "square", sizing: .longestEdge(100))]
        #expect(VariantAddress.parse("x/square.webp", presets: only)?.preset.name == "square")
        #expect(VariantAddress.parse("x/thumb-400.jpg", presets: only) == nil)
        #expect(VariantAddress.parse("x/square.webp", presets: []) == nil)
    }

    struct SourceCase: Sendable, CustomTestStringConvertible {
        var key: String
        var directory: String?
        var testDescription: String { key }
    }

    @Test("sourceDirectory", arguments: [
        SourceCase(key: "a/original.jpg", directory: "a/"),
        SourceCase(key: "a/original.jpeg", directory: "a/"),
        SourceCase(key: "a/original.tiff", directory: "a/"),
        SourceCase(key: "a/original.tif", directory: "a/"),
        SourceCase(key: "a/b/original.heic", directory: "a/b/"),
        SourceCase(key: "a/original.heif", directory: "a/"),
        SourceCase(key: "a/original.gif", directory: "a/"),
        SourceCase(key: "a/original.webp", directory: "a/"),
        SourceCase(key: "a/original.avif", directory: "a/"),
        SourceCase(key: "original.png", directory: ""),
        SourceCase(key: "a/original.bmp", directory: nil),
        SourceCase(key: "a/originalx.jpg", directory: nil),
        SourceCase(key: "a/original", directory: nil),
        SourceCase(key: "a/original.", directory: nil),
        SourceCase(key: "a/xoriginal.jpg", directory: nil),
        SourceCase(key: "a/original.jpg/b", directory: nil),
        SourceCase(key: "a/thumb-400.jpg", directory: nil),
    ])
    func sourceDirectory(_ input: SourceCase) {
        #expect(VariantAddress.sourceDirectory(of: input.key) == input.directory)
    }

    @Test("every preset in every format, once each, all parsing back to the directory")
    func variantKeys() {
        let presets = VariantPreset.defaults
        let keys = VariantAddress.variantKeys(in: "photos/p/", presets: presets)
        #expect(keys.count == presets.count * 4)
        #expect(presets.count == 9)
        #expect(Set(keys).count == keys.count)
        #expect(keys.contains("photos/p/thumb-400.jpg"))
        #expect(keys.contains("photos/p/watermarked.png"))
        #expect(keys.contains("photos/p/main_full.avif"))
        for key in keys {
            let address = VariantAddress.parse(key, presets: presets)
            #expect(address?.directory == "photos/p/", "\(key)")
            #expect(address?.key == key)
        }
        #expect(VariantAddress.variantKeys(in: "", presets: presets).allSatisfy { !$0.contains("/") })
        #expect(VariantAddress.variantKeys(in: "d/", presets: []).isEmpty)
    }

    @Test("content types of the variant formats")
    func contentTypes() {
        #expect(VariantFormat.jpg.contentType == "image/jpeg")
        #expect(VariantFormat.webp.contentType == "image/webp")
        #expect(VariantFormat.avif.contentType == "image/avif")
        #expect(VariantFormat.png.contentType == "image/png")
        #expect(Set(VariantFormat.allCases.map(\.rawValue)) == Set(["jpg", "webp", "avif", "png"]))
    }
}
