/// A named variant size (SPEC §6).
public struct VariantPreset: Sendable, Equatable, Hashable {
    /// How the source is sized.
    public enum Sizing: Sendable, Equatable, Hashable {
        /// This width, height following the aspect ratio.
        case width(Int)
        /// The longest edge at most this many pixels.
        case longestEdge(Int)
    }

    public var name: String
    public var sizing: Sizing
    /// Whether the text watermark is drawn.
    public var watermarked: Bool

    /// Creates a preset.
    public init(name: String, sizing: Sizing, watermarked: Bool = false) {
        self.name = name
        self.sizing = sizing
        self.watermarked = watermarked
    }

    /// The presets of SPEC §6.
    public static let defaults: [VariantPreset] = [
        VariantPreset(name: "thumb-400", sizing: .width(400)),
        VariantPreset(name: "thumb-800", sizing: .width(800)),
        VariantPreset(name: "thumbnail_small", sizing: .width(160)),
        VariantPreset(name: "thumbnail_large", sizing: .width(320)),
        VariantPreset(name: "main_mobile", sizing: .width(640)),
        VariantPreset(name: "main_tablet", sizing: .width(1024)),
        VariantPreset(name: "main_desktop", sizing: .width(1600)),
        VariantPreset(name: "main_full", sizing: .width(2560)),
        VariantPreset(name: "watermarked", sizing: .longestEdge(2048), watermarked: true),
    ]

    /// The box libvips fits the image into (never enlarging).
    var box: (width: Int, height: Int) {
        switch sizing {
        case .width(let width): (width, VariantPreset.unbounded)
        case .longestEdge(let edge): (edge, edge)
        }
    }

    /// libvips' largest coordinate: "no limit" for a thumbnail's height.
    static let unbounded = 10_000_000
}

/// An output format of a variant.
public enum VariantFormat: String, Sendable, CaseIterable, Hashable {
    case jpg, webp, avif, png

    /// The stored and served `Content-Type`.
    public var contentType: String {
        switch self {
        case .jpg: "image/jpeg"
        case .webp: "image/webp"
        case .avif: "image/avif"
        case .png: "image/png"
        }
    }
}

/// Encoder settings per format.
public struct EncoderSettings: Sendable, Equatable {
    /// JPEG, WebP and AVIF quality (1...100).
    public var jpegQuality = 82
    public var webpQuality = 80
    public var avifQuality = 55
    /// AVIF effort 0...9: 2 costs about half of the default 4 for ~2 % more bytes (STACK.md).
    public var avifEffort = 2
    /// WebP effort 0...6.
    public var webpEffort = 4

    /// The defaults.
    public init() {}
}
