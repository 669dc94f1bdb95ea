import Testing

@testable import VariantEngine

/// RIFF/WebP container rewriting (RIFF: little-endian sizes, chunks padded to even length;
/// WebP extended format: VP8X flags ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02).
struct WebPMetadataTests {
    static func le32(_ value: Int) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8((value >> 24) & 0xFF)]
    }

    /// A chunk: fourCC, little-endian payload size, payload, a zero pad byte when the size is odd.
    static func chunk(_ fourCC: String, _ payload: [UInt8]) -> [UInt8] {
        precondition(fourCC.utf8.count == 4)
        return Array(fourCC.utf8) + le32(payload.count) + payload + (payload.count % 2 == 1 ? [0] : [])
    }

    static func riff(_ chunks: [[UInt8]]) -> [UInt8] {
        let body = Array("WEBP".utf8) + chunks.flatMap { $0 }
        return Array("RIFF".utf8) + le32(body.count) + body
    }

    /// VP8X payload: flags, 3 reserved bytes, canvas width - 1 and height - 1 (24 bits each).
    static func vp8x(flags: UInt8, width: Int, height: Int) -> [UInt8] {
        let w = width - 1, h = height - 1
        return [flags, 0, 0, 0,
                UInt8(w & 0xFF), UInt8((w >> 8) & 0xFF), UInt8((w >> 16) & 0xFF),
                UInt8(h & 0xFF), UInt8((h >> 8) & 0xFF), UInt8((h >> 16) & 0xFF)]
    }

    /// The fourCCs of a RIFF/WEBP file's top-level chunks, walked by the RIFF rules.
    static func fourCCs(_ bytes: [UInt8]) -> [String] {
        var names: [String] = []
        var offset = 12
        while offset + 8 <= bytes.count {
            names.append(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self))
            let size = Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]) << 16 | Int(bytes[offset + 7]) << 24
            offset += 8 + size + (size & 1)
        }
        return names
    }

    static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    static func riffSize(_ bytes: [UInt8]) -> Int {
        Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
    }

    // Made-up payloads: only the container matters here.
    static let icc: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55]  // odd: padded
    static let vp8: [UInt8] = [0x9D, 0x01, 0x2A, 0x01, 0x00, 0x01, 0x00]  // odd: padded
    static let exif: [UInt8] = Array("Exif\0\0II*\0".utf8)
    static let xmp: [UInt8] = Array("<x/>".utf8) + [0x0A]  // odd: padded

    @Test("EXIF, XMP and ICCP chunks go, their flags are cleared, the image chunk stays byte for byte")
    func stripsHandBuiltFile() {
        let flags: UInt8 = 0x20 | 0x10 | 0x08 | 0x04
        let vp8Chunk = Self.chunk("VP8 ", Self.vp8)
        #expect(vp8Chunk.count == 16)
        let input = Self.riff([
            Self.chunk("VP8X", Self.vp8x(flags: flags, width: 1, height: 1)),
            Self.chunk("ICCP", Self.icc),
            vp8Chunk,
            Self.chunk("EXIF", Self.exif),
            Self.chunk("XMP ", Self.xmp),
        ])
        #expect(Self.riffSize(input) == input.count - 8)

        let output = WebPMetadata.strip(input)

        #expect(Self.fourCCs(output) == ["VP8X", "VP8 "])
        #expect(Self.riffSize(output) == output.count - 8)
        #expect(output.count == 12 + 18 + 16)
        // Only the alpha flag is left.
        #expect(output[20] == 0x10)
        // The rest of VP8X (reserved bytes and canvas size) is unchanged.
        #expect(Array(output[21..<30]) == Array(Self.vp8x(flags: 0, width: 1, height: 1)[1...]))
        // The image chunk, with its pad byte, follows VP8X unchanged.
        #expect(Array(output[30...]) == vp8Chunk)
        #expect(!Self.contains(output, "Exif"))
        #expect(!Self.contains(output, "<x/>"))
        // The whole expected file.
        let expected = Self.riff([Self.chunk("VP8X", Self.vp8x(flags: 0x10, width: 1, height: 1)), vp8Chunk])
        #expect(output == expected)
    }

    @Test("a file without metadata chunks comes back identical")
    func keepsCleanFile() {
        let input = Self.riff([Self.chunk("VP8X", Self.vp8x(flags: 0x10, width: 3, height: 2)), Self.chunk("VP8 ", Self.vp8)])
        #expect(WebPMetadata.strip(input) == input)
        let simple = Self.riff([Self.chunk("VP8L", [0x2F, 0x00, 0x00, 0x00])])
        #expect(WebPMetadata.strip(simple) == simple)
    }

    @Test("animation chunks and flags are kept")
    func keepsAnimation() {
        let input = Self.riff([
            Self.chunk("VP8X", Self.vp8x(flags: 0x02 | 0x08, width: 2, height: 2)),
            Self.chunk("ANIM", [0, 0, 0, 0, 0, 0]),
            Self.chunk("ANMF", Array(repeating: 7, count: 17)),
            Self.chunk("EXIF", Self.exif),
        ])
        let output = WebPMetadata.strip(input)
        #expect(Self.fourCCs(output) == ["VP8X", "ANIM", "ANMF"])
        #expect(output[20] == 0x02)
        #expect(Self.riffSize(output) == output.count - 8)
    }

    @Test("anything that is not RIFF/WEBP is returned unchanged")
    func nonWebP() throws {
        let jpeg = try Corpus.bytes("exif-gps.jpg")
        #expect(WebPMetadata.strip(jpeg) == jpeg)
        let wave = Array("RIFF".utf8) + Self.le32(12) + Array("WAVE".utf8) + Self.chunk("EXIF", [1, 2])
        #expect(WebPMetadata.strip(wave) == wave)
        #expect(WebPMetadata.strip([UInt8]()).isEmpty)
        #expect(WebPMetadata.strip(Array("RIFF".utf8)) == Array("RIFF".utf8))
    }

    @Test("a chunk claiming more bytes than the file has leaves the file unchanged")
    func truncatedChunk() {
        var input = Self.riff([Self.chunk("VP8X", Self.vp8x(flags: 0x08, width: 1, height: 1)), Self.chunk("EXIF", Self.exif)])
        // The EXIF chunk's size field (after the RIFF header, the VP8X chunk and "EXIF") claims 1000 bytes.
        let sizeField = 12 + 18 + 4
        input.replaceSubrange(sizeField..<(sizeField + 4), with: Self.le32(1000))
        #expect(WebPMetadata.strip(input) == input)
    }

    @Test("a WebP variant of a photo with EXIF, XMP and GPS carries none of it")
    func derivedWebP() throws {
        let preset = VariantPreset.defaults.first { $0.name == "thumb-400" }!
        let image = try VariantPipeline().derive(source: try Corpus.bytes("exif-gps.jpg"), preset: preset, format: .webp, watermark: "")
        #expect(hasMagic(image.bytes, of: .webp))
        #expect(!Self.contains(image.bytes, "Exif"))
        let chunks = Self.fourCCs(image.bytes)
        #expect(!chunks.contains("EXIF") && !chunks.contains("XMP ") && !chunks.contains("ICCP"), "\(chunks)")
        #expect(Self.riffSize(image.bytes) == image.bytes.count - 8)
        // Stripping again changes nothing, and the file still decodes at its size.
        #expect(WebPMetadata.strip(image.bytes) == image.bytes)
        let header = try VariantPipeline().readHeader(image.bytes)
        #expect(header.width == 400 && header.height == 300)
    }
}
