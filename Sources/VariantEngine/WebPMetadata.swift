/// Removes metadata chunks from a WebP file.
///
/// libvips 8.14's `webpsave` writes an `EXIF` chunk (resolution, orientation) even with
/// `strip`; SPEC §6 wants no EXIF at all in a variant, so the container is rewritten without
/// `EXIF`, `XMP ` and `ICCP` chunks and with their `VP8X` flags cleared.
enum WebPMetadata {
    static let dropped: Set<String> = ["EXIF", "XMP ", "ICCP"]

    /// The file without metadata chunks; the input unchanged when it is not a RIFF/WEBP file.
    static func strip(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) else {
            return bytes
        }
        var body: [UInt8] = Array("WEBP".utf8)
        var offset = 12
        while offset + 8 <= bytes.count {
            let fourCC = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]) << 16 | Int(bytes[offset + 7]) << 24
            let end = offset + 8 + size + (size & 1)
            guard end <= bytes.count || offset + 8 + size == bytes.count else { return bytes }
            var chunk = Array(bytes[offset..<min(end, bytes.count)])
            if fourCC == "VP8X", chunk.count > 8 {
                // Flags: ICC 0x20, EXIF 0x08, XMP 0x04.
                chunk[8] &= ~UInt8(0x20 | 0x08 | 0x04)
            }
            if !dropped.contains(fourCC) { body += chunk }
            offset = end
        }
        let riffSize = UInt32(body.count)
        return Array("RIFF".utf8) + [UInt8(riffSize & 0xFF), UInt8((riffSize >> 8) & 0xFF), UInt8((riffSize >> 16) & 0xFF), UInt8(riffSize >> 24)] + body
    }
}
