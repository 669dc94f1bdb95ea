import Foundation

/// First bytes of media files, built from the published signatures (not from the code under test).
enum Head {
    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0x00, 0x01, 0x01]
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D] + Array("IHDR".utf8)
    static let gif: [UInt8] = Array("GIF89a".utf8) + [0x01, 0x00, 0x01, 0x00, 0x80]
    static let webp: [UInt8] = Array("RIFF".utf8) + [0x24, 0x00, 0x00, 0x00] + Array("WEBPVP8 ".utf8)
    /// Little-endian TIFF: `II*\0`.
    static let tiffLE: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00]
    /// Big-endian TIFF: `MM\0*`.
    static let tiffBE: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08]
    static let mp4 = ftyp(major: "isom", compatible: ["isom", "iso2", "avc1", "mp41"])
    static let quicktime = ftyp(major: "qt  ", compatible: ["qt  "])
    /// An old QuickTime file whose first atom is `moov` (no `ftyp`).
    static let quicktimeMoov: [UInt8] = [0x00, 0x00, 0x00, 0x6C] + Array("moov".utf8) + [0x00, 0x00, 0x00, 0x6C] + Array("mvhd".utf8)
    static let avif = ftyp(major: "avif", compatible: ["avif", "mif1", "miaf"])
    /// A generic HEIF image (`mif1`) that lists `avif` among its compatible brands: an AVIF.
    static let avifMif1 = ftyp(major: "mif1", compatible: ["mif1", "avif", "miaf"])
    static let heic = ftyp(major: "heic", compatible: ["mif1", "heic"])
    static let heicMif1 = ftyp(major: "mif1", compatible: ["mif1", "heic"])
    static let html: [UInt8] = Array("<!DOCTYPE html><html><head><script>alert(1)</script></head></html>".utf8)
    static let text: [UInt8] = Array("just some words, nothing more".utf8)

    /// An ISO base media `ftyp` box (big-endian size, `ftyp`, major brand, minor version 0,
    /// compatible brands), followed by the start of a `meta` box.
    static func ftyp(major: String, compatible: [String]) -> [UInt8] {
        let size = UInt32(16 + 4 * compatible.count)
        var bytes: [UInt8] = [UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)]
        bytes += Array("ftyp".utf8) + Array(major.utf8) + [0, 0, 0, 0]
        for brand in compatible { bytes += Array(brand.utf8) }
        return bytes + [0x00, 0x00, 0x00, 0x22] + Array("meta".utf8)
    }
}

/// The shared test corpus: `shared/corpus` beside the repository (`/work/shared` for `/work/main`).
enum Corpus {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tests/PolicyTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the repository
        .deletingLastPathComponent()  // beside the repository
        .appendingPathComponent("shared/corpus")

    static func bytes(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }
}
