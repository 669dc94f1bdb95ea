import CVipsShim
import Foundation
import Integrity
import Storage

/// Computes media info from an image's bytes: display size, orientation, aspect ratio,
/// dominant colour, colour profile, SHA-256, EXIF taken-at and GPS.
///
/// - Important: blocks its thread: run it on ``VariantWorkers``.
public struct MediaAnalyzer: Sendable {
    public var limits: ImageLimits

    /// Creates an analyzer with the same limits as variants.
    public init(limits: ImageLimits = ImageLimits()) {
        self.limits = limits
    }

    /// The media info of `bytes`. Non-images get only their SHA-256.
    public func analyze(_ bytes: [UInt8]) -> MediaInfo {
        var info = MediaInfo()
        var digester = BodyDigester(md5: false, sha256: true, checksum: nil)
        digester.update(bytes)
        info.sha256 = digester.finalize().sha256Hex
        let pipeline = VariantPipeline(limits: limits)
        guard Vips.started, let header = try? pipeline.readHeader(bytes) else { return info }
        let swapped = header.orientation >= 5
        info.width = swapped ? header.height : header.width
        info.height = swapped ? header.width : header.height
        info.orientation = header.orientation
        if let width = info.width, let height = info.height, height > 0 {
            info.aspectRatio = (Double(width) / Double(height) * 10_000).rounded() / 10_000
        }
        var exif = mg_vips_exif()
        var icc: UnsafeMutableRawPointer?
        var iccLength = 0
        if bytes.withUnsafeBytes({ mg_vips_read_exif($0.baseAddress, $0.count, &exif, &icc, &iccLength) }) == 0 {
            defer { if let icc { mg_vips_free(icc) } }
            let profile = icc.map { Array(UnsafeRawBufferPointer(start: $0, count: iccLength)) }
            info.colorProfile = profile.flatMap(ICCProfile.description) ?? Self.colourSpaceName(header.interpretation)
            info.takenAt = EXIFValues.takenAt(Self.text(&exif.taken_at), offset: Self.text(&exif.offset_time))
            info.gpsLat = EXIFValues.coordinate(Self.text(&exif.gps_latitude), reference: Self.text(&exif.gps_latitude_ref))
            info.gpsLng = EXIFValues.coordinate(Self.text(&exif.gps_longitude), reference: Self.text(&exif.gps_longitude_ref))
        } else {
            _ = Vips.takeError()
        }
        if (try? pipeline.checkPixels(header)) != nil {
            info.dominantColor = dominantColor(bytes, throughProfile: header.needsProfileTransform)
        }
        return info
    }

    /// The most common colour, on a 48 px rendering quantized to 4 bits a channel; the mean of
    /// the pixels in that bucket, as `#rrggbb`.
    func dominantColor(_ bytes: [UInt8], throughProfile: Bool) -> String? {
        var pixels: UnsafeMutableRawPointer?
        var length = 0
        var width: Int32 = 0, height: Int32 = 0
        guard bytes.withUnsafeBytes({ mg_vips_sample_pixels($0.baseAddress, $0.count, 48, throughProfile ? 1 : 0, &pixels, &length, &width, &height) }) == 0,
            let pixels
        else {
            _ = Vips.takeError()
            return nil
        }
        defer { mg_vips_free(pixels) }
        let rgb = UnsafeRawBufferPointer(start: pixels, count: length)
        var counts = [Int](repeating: 0, count: 4096)
        var sums = [(Int, Int, Int)](repeating: (0, 0, 0), count: 4096)
        var index = 0
        while index + 2 < rgb.count {
            let r = Int(rgb[index]), g = Int(rgb[index + 1]), b = Int(rgb[index + 2])
            let bucket = (r >> 4) << 8 | (g >> 4) << 4 | (b >> 4)
            counts[bucket] += 1
            sums[bucket].0 += r
            sums[bucket].1 += g
            sums[bucket].2 += b
            index += 3
        }
        guard let best = counts.indices.max(by: { counts[$0] < counts[$1] }), counts[best] > 0 else { return nil }
        let n = counts[best]
        let hex = [sums[best].0 / n, sums[best].1 / n, sums[best].2 / n].map { value -> String in
            let text = String(value, radix: 16)
            return text.count == 1 ? "0" + text : text
        }
        return "#" + hex.joined()
    }

    static func colourSpaceName(_ interpretation: String) -> String? {
        switch interpretation {
        case "srgb", "rgb": "sRGB"
        case "b-w", "grey16": "Gray"
        case "cmyk": "CMYK"
        case "rgb16": "sRGB"
        case "": nil
        default: interpretation
        }
    }

    /// A C character array as a String.
    static func text<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// Reading libvips' EXIF strings ("2023:07:14 09:41:27 (…)", "43/1 11/1 1248/25 (…)").
enum EXIFValues {
    /// The value before libvips' parenthesized description.
    static func raw(_ text: String) -> String {
        let value = text.range(of: " (").map { String(text[..<$0.lowerBound]) } ?? text
        return value.trimmingCharacters(in: .whitespaces)
    }

    /// `YYYY:MM:DD HH:MM:SS` (+ `OffsetTimeOriginal`) as RFC 3339; without an offset the time is
    /// local to the camera and is written without a zone.
    static func takenAt(_ text: String, offset: String) -> String? {
        let value = raw(text)
        let parts = value.split(whereSeparator: { $0 == ":" || $0 == " " })
        let numbers = parts.compactMap { Int($0) }
        guard parts.count == 6, numbers.count == 6, numbers[0] > 0, (1...12).contains(numbers[1]), (1...31).contains(numbers[2]),
            (0...23).contains(numbers[3]), (0...59).contains(numbers[4]), (0...60).contains(numbers[5])
        else { return nil }
        let stamp = "\(parts[0])-\(parts[1])-\(parts[2])T\(parts[3]):\(parts[4]):\(parts[5])"
        let zone = raw(offset)
        let validZone = zone.count == 6 && (zone.hasPrefix("+") || zone.hasPrefix("-"))
        return validZone ? stamp + zone : stamp
    }

    /// Degrees from three rationals and a reference (N/S/E/W); south and west are negative.
    static func coordinate(_ text: String, reference: String) -> Double? {
        let rationals = raw(text).split(separator: " ").compactMap { part -> Double? in
            let pieces = part.split(separator: "/")
            guard pieces.count == 2, let numerator = Double(pieces[0]), let denominator = Double(pieces[1]), denominator != 0 else {
                return nil
            }
            return numerator / denominator
        }
        guard rationals.count == 3 else { return nil }
        let degrees = rationals[0] + rationals[1] / 60 + rationals[2] / 3600
        let ref = raw(reference).uppercased()
        guard ["N", "S", "E", "W"].contains(ref) else { return nil }
        let signed = (ref == "S" || ref == "W") ? -degrees : degrees
        return (signed * 1_000_000).rounded() / 1_000_000
    }
}

/// Reads the description of an ICC profile (`desc` tag: ICC v2 `desc` or v4 `mluc`).
enum ICCProfile {
    static func description(_ profile: [UInt8]) -> String? {
        func u32(_ offset: Int) -> Int? {
            guard offset + 4 <= profile.count else { return nil }
            return Int(profile[offset]) << 24 | Int(profile[offset + 1]) << 16 | Int(profile[offset + 2]) << 8 | Int(profile[offset + 3])
        }
        guard let count = u32(128), count < 1000 else { return nil }
        for index in 0..<count {
            let entry = 132 + index * 12
            guard entry + 12 <= profile.count, profile[entry..<(entry + 4)].elementsEqual("desc".utf8),
                let offset = u32(entry + 4), let size = u32(entry + 8), offset + size <= profile.count, size >= 12
            else { continue }
            let tag = Array(profile[offset..<(offset + size)])
            if tag.starts(with: Array("desc".utf8)) {
                let length = Int(tag[8]) << 24 | Int(tag[9]) << 16 | Int(tag[10]) << 8 | Int(tag[11])
                guard length > 0, 12 + length <= tag.count else { return nil }
                return clean(String(decoding: tag[12..<(12 + length)].prefix { $0 != 0 }, as: UTF8.self))
            }
            if tag.starts(with: Array("mluc".utf8)), tag.count >= 28 {
                let recordLength = Int(tag[20]) << 24 | Int(tag[21]) << 16 | Int(tag[22]) << 8 | Int(tag[23])
                let recordOffset = Int(tag[24]) << 24 | Int(tag[25]) << 16 | Int(tag[26]) << 8 | Int(tag[27])
                guard recordOffset + recordLength <= tag.count else { return nil }
                let units = stride(from: recordOffset, to: recordOffset + recordLength - 1, by: 2).map {
                    UInt16(tag[$0]) << 8 | UInt16(tag[$0 + 1])
                }
                return clean(String(decoding: units, as: UTF16.self))
            }
        }
        return nil
    }

    private static func clean(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.controlCharacters))
        return trimmed.isEmpty ? nil : trimmed
    }
}
