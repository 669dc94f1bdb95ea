import CVipsShim
import Foundation

/// What a source image may be before anything is decoded.
public struct ImageLimits: Sendable, Equatable {
    /// Largest source, in bytes (SPEC §6: 200 MB).
    public var maxBytes = 200_000_000
    /// Largest width × height × frames (SPEC §6: 100 megapixels).
    public var maxPixels = 100_000_000

    /// The defaults.
    public init() {}
}

/// A derived image.
public struct DerivedImage: Sendable, Equatable {
    public var bytes: [UInt8]
    public var width: Int
    public var height: Int
    public var format: VariantFormat
}

/// A variant, as a list of small steps over libvips:
/// check size → read header → check pixels → decode shrunk, upright, sRGB → watermark →
/// encode without metadata.
///
/// - Important: every step blocks its thread: run it on ``VariantWorkers``, never on an event
///   loop or the cooperative pool.
public struct VariantPipeline: Sendable {
    public var limits: ImageLimits
    public var encoder: EncoderSettings
    /// The font of the watermark (fontconfig name).
    public var watermarkFont: String

    /// Creates a pipeline.
    public init(limits: ImageLimits = ImageLimits(), encoder: EncoderSettings = EncoderSettings(), watermarkFont: String = "DejaVu Sans Bold") {
        self.limits = limits
        self.encoder = encoder
        self.watermarkFont = watermarkFont
    }

    /// Starts libvips now (else the first derivation does); call it early in `main`, before
    /// other threads start. Returns whether libvips is usable.
    public static func startLibvips() -> Bool { Vips.started }

    /// Derives one variant from a source's bytes.
    /// - Parameter watermark: the text for watermarked presets.
    /// - Throws: ``VariantError`` `.imageTooLarge` or `.invalidImage`.
    public func derive(source: [UInt8], preset: VariantPreset, format: VariantFormat, watermark: String) throws(VariantError) -> DerivedImage {
        guard Vips.started else { throw VariantError(.invalidImage, "libvips did not start") }
        try checkBytes(source)
        let header = try readHeader(source)
        try checkPixels(header)
        var image = try decode(source, preset: preset, header: header)
        if preset.watermarked {
            image = try drawWatermark(on: image, text: watermark)
        }
        let bytes = try encode(image, format: format)
        let size = image.size
        return DerivedImage(bytes: bytes, width: size.width, height: size.height, format: format)
    }

    // MARK: Steps

    func checkBytes(_ source: [UInt8]) throws(VariantError) {
        guard !source.isEmpty else { throw VariantError(.invalidImage, "empty source") }
        guard source.count <= limits.maxBytes else {
            throw VariantError(.imageTooLarge, "source has \(source.count) bytes, over \(limits.maxBytes)")
        }
    }

    /// Reads the header only: nothing is decoded yet.
    public func readHeader(_ source: [UInt8]) throws(VariantError) -> ImageHeader {
        guard Vips.started else { throw VariantError(.invalidImage, "libvips did not start") }
        var header = mg_vips_header()
        let status = source.withUnsafeBytes { mg_vips_read_header($0.baseAddress, $0.count, &header) }
        guard status == 0 else { throw VariantError(.invalidImage, "header: \(Vips.takeError())") }
        return ImageHeader(header)
    }

    func checkPixels(_ header: ImageHeader) throws(VariantError) {
        let (pixels, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        let (total, overflow2) = pixels.multipliedReportingOverflow(by: max(1, header.pages))
        guard !overflow, !overflow2, total <= limits.maxPixels else {
            throw VariantError(.imageTooLarge, "\(header.width)x\(header.height)x\(header.pages) is over \(limits.maxPixels) pixels")
        }
    }

    func decode(_ source: [UInt8], preset: VariantPreset, header: ImageHeader) throws(VariantError) -> VipsImage {
        let box = preset.box
        let throughProfile: Int32 = header.needsProfileTransform ? 1 : 0
        let pointer = source.withUnsafeBytes {
            mg_vips_thumbnail($0.baseAddress, $0.count, Int32(box.width), Int32(box.height), throughProfile)
        }
        guard let pointer else { throw VariantError(.invalidImage, "decode: \(Vips.takeError())") }
        return VipsImage(pointer)
    }

    func drawWatermark(on image: VipsImage, text: String) throws(VariantError) -> VipsImage {
        guard let pointer = mg_vips_watermark(image.pointer, text, watermarkFont) else {
            throw VariantError(.invalidImage, "watermark: \(Vips.takeError())")
        }
        return VipsImage(pointer)
    }

    func encode(_ image: VipsImage, format: VariantFormat) throws(VariantError) -> [UInt8] {
        let (vipsFormat, quality, effort): (mg_vips_format, Int, Int) = switch format {
        case .jpg: (MG_VIPS_JPEG, encoder.jpegQuality, 0)
        case .webp: (MG_VIPS_WEBP, encoder.webpQuality, encoder.webpEffort)
        case .avif: (MG_VIPS_AVIF, encoder.avifQuality, encoder.avifEffort)
        case .png: (MG_VIPS_PNG, 0, 0)
        }
        var output: UnsafeMutableRawPointer?
        var length = 0
        // Decoding is lazy: a truncated source fails here, at save.
        guard mg_vips_save(image.pointer, vipsFormat, Int32(quality), Int32(effort), &output, &length) == 0, let output else {
            throw VariantError(.invalidImage, "encode: \(Vips.takeError())")
        }
        defer { mg_vips_free(output) }
        let bytes = Array(UnsafeRawBufferPointer(start: output, count: length))
        return format == .webp ? WebPMetadata.strip(bytes) : bytes
    }
}

/// What a header-only load reports.
public struct ImageHeader: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pages: Int
    /// EXIF orientation, 1...8.
    public var orientation: Int
    public var bands: Int
    public var hasICCProfile: Bool
    public var loader: String
    public var interpretation: String

    /// Whether colours go to sRGB through an ICC transform: an embedded profile, or CMYK (libvips'
    /// built-in profile). Untagged RGB is taken as sRGB as it is.
    var needsProfileTransform: Bool { hasICCProfile || interpretation == "cmyk" }

    init(_ header: mg_vips_header) {
        width = Int(header.width)
        height = Int(header.height)
        pages = Int(max(1, header.pages))
        orientation = Int(header.orientation == 0 ? 1 : header.orientation)
        bands = Int(header.bands)
        hasICCProfile = header.has_icc != 0
        var loaderTuple = header.loader
        loader = withUnsafeBytes(of: &loaderTuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        var interpretationTuple = header.interpretation
        interpretation = withUnsafeBytes(of: &interpretationTuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
