import Foundation
import Storage
import Testing

@testable import VariantEngine

/// The corpus' `SHA256SUMS` (`<hex>  <path>` lines), by path.
enum CorpusSums {
    static func all() throws -> [String: String] {
        let text = try String(contentsOf: Corpus.directory.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        var sums: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2 else { continue }
            sums[String(fields[1])] = String(fields[0])
        }
        return sums
    }
}

/// `#rrggbb`.
func isHexColour(_ text: String?) -> Bool {
    guard let text, text.count == 7, text.first == "#" else { return false }
    return text.dropFirst().allSatisfy(\.isHexDigit)
}

/// Media info computed from corpus files. Expected values come from the corpus README and
/// `exiftool` / `vipsheader` on the files (noted at each value), never from this code.
struct MediaAnalyzerTests {
    let analyzer = MediaAnalyzer()

    @Test("exif-gps.jpg: size, GPS and the time taken with its offset")
    func exifGPS() throws {
        let info = analyzer.analyze(try Corpus.bytes("exif-gps.jpg"))
        #expect(info.width == 1024)
        #expect(info.height == 768)
        #expect(info.orientation == 1)
        #expect(abs((info.aspectRatio ?? .nan) - 1024.0 / 768.0) < 0.001)
        // README: lat 43.1972 N, lon 4.8156 W.
        #expect(abs((info.gpsLat ?? .nan) - 43.1972) < 0.0001, "\(String(describing: info.gpsLat))")
        #expect(abs((info.gpsLng ?? .nan) - -4.8156) < 0.0001, "\(String(describing: info.gpsLng))")
        // exiftool: DateTimeOriginal 2023:07:14 09:41:27, OffsetTimeOriginal +02:00.
        #expect(info.takenAt == "2023-07-14T09:41:27+02:00")
        #expect(info.sha256 == (try CorpusSums.all())["exif-gps.jpg"])
        #expect(isHexColour(info.dominantColor), "\(String(describing: info.dominantColor))")
        // Only clients set these; no video here.
        #expect(info.altText == nil && info.caption == nil && info.duration == nil)
    }

    struct Oriented: Sendable, CustomTestStringConvertible {
        var file: String
        var orientation: Int
        var width: Int
        var height: Int
        var testDescription: String { file }
    }

    /// README "Display size" and exiftool's Orientation.
    @Test("display size after EXIF orientation", arguments: [
        Oriented(file: "exif-orientation-6.jpg", orientation: 6, width: 1152, height: 1536),
        Oriented(file: "exif-orientation-8.jpg", orientation: 8, width: 576, height: 768),
        Oriented(file: "exif-orientation-3.jpg", orientation: 3, width: 576, height: 768),
        Oriented(file: "photo-mid.jpg", orientation: 1, width: 2048, height: 1536),
    ])
    func orientation(_ input: Oriented) throws {
        let info = analyzer.analyze(try Corpus.bytes(input.file))
        #expect(info.orientation == input.orientation)
        #expect(info.width == input.width)
        #expect(info.height == input.height)
        let ratio = Double(input.width) / Double(input.height)
        #expect(abs((info.aspectRatio ?? .nan) - ratio) < 0.0001, "\(String(describing: info.aspectRatio))")
    }

    @Test("exif-orientation-6.jpg is portrait: aspect ratio 0.75")
    func portraitRatio() throws {
        let info = analyzer.analyze(try Corpus.bytes("exif-orientation-6.jpg"))
        #expect(info.aspectRatio == 0.75)
        // exiftool: only Make, Model, Orientation and resolution in its EXIF; no date, no GPS.
        #expect(info.takenAt == nil)
        #expect(info.gpsLat == nil && info.gpsLng == nil)
    }

    struct Profile: Sendable, CustomTestStringConvertible {
        var file: String
        var name: String
        var testDescription: String { file }
    }

    /// Embedded profiles: `exiftool -ProfileDescription`. Without one (gray.png, photo-mid.jpg,
    /// cmyk-no-profile.jpg: exiftool prints none) the colour space: vipsheader says b-w, srgb, cmyk.
    @Test("colour profile: the ICC description, else the colour space", arguments: [
        Profile(file: "icc-display-p3.jpg", name: "sP3C"),
        Profile(file: "icc-adobergb.jpg", name: "Compatible with Adobe RGB (1998)"),
        Profile(file: "cmyk.jpg", name: "Chemical proof"),
        Profile(file: "gray.png", name: "Gray"),
        Profile(file: "gray.jpg", name: "Gray"),
        Profile(file: "photo-mid.jpg", name: "sRGB"),
        Profile(file: "cmyk-no-profile.jpg", name: "CMYK"),
    ])
    func colourProfile(_ input: Profile) throws {
        let info = analyzer.analyze(try Corpus.bytes(input.file))
        #expect(info.colorProfile == input.name)
    }

    @Test("a grey image has a grey dominant colour")
    func greyDominantColour() throws {
        let info = analyzer.analyze(try Corpus.bytes("gray.png"))
        let colour = try #require(info.dominantColor)
        #expect(isHexColour(colour))
        let hex = Array(colour.dropFirst())
        #expect(hex[0..<2] == hex[2..<4] && hex[2..<4] == hex[4..<6], "\(colour)")
        // No EXIF in a scikit-image PNG.
        #expect(info.takenAt == nil && info.gpsLat == nil)
    }

    @Test("sha256 is the file's SHA-256", arguments: [
        "exif-gps.jpg", "gray.png", "alpha.png", "static.gif", "animated.gif", "input.webp",
        "hostile/not-an-image.jpg", "hostile/empty.jpg", "hostile/png-bomb-50000x50000.png",
    ])
    func sha256(_ file: String) throws {
        let expected = try #require(try CorpusSums.all()[file])
        #expect(analyzer.analyze(try Corpus.bytes(file)).sha256 == expected)
    }

    @Test("a non-image gets only its SHA-256", arguments: ["hostile/not-an-image.jpg", "hostile/empty.jpg"])
    func nonImage(_ file: String) throws {
        var expected = MediaInfo()
        expected.sha256 = try CorpusSums.all()[file]
        #expect(expected.sha256 != nil)
        #expect(analyzer.analyze(try Corpus.bytes(file)) == expected)
    }

    struct Bomb: Sendable, CustomTestStringConvertible {
        var file: String
        var side: Int
        var testDescription: String { file }
    }

    /// README: the header claims 50000x50000 / 65500x65500; over the pixel limit nothing is decoded.
    @Test("a decompression bomb gets its header size but no dominant colour", .timeLimit(.minutes(1)), arguments: [
        Bomb(file: "hostile/png-bomb-50000x50000.png", side: 50000),
        Bomb(file: "hostile/jpeg-huge-dimensions.jpg", side: 65500),
    ])
    func bomb(_ input: Bomb) throws {
        let bytes = try Corpus.bytes(input.file)
        let info = analyzer.analyze(bytes)
        #expect(info.width == input.side && info.height == input.side)
        #expect(info.aspectRatio == 1)
        // The dominant colour is the one fact that needs the pixels; the pixel check that guards
        // it refuses the header (README: decoding the PNG bomb takes ~5.6 CPU-seconds).
        #expect(info.dominantColor == nil)
        let pipeline = VariantPipeline(limits: analyzer.limits)
        let header = try pipeline.readHeader(bytes)
        #expect(throws: VariantError.self) { try pipeline.checkPixels(header) }
    }

    @Test("a lower pixel limit also skips the dominant colour, not the header facts")
    func pixelLimit() throws {
        var limits = ImageLimits()
        limits.maxPixels = 1000
        let info = MediaAnalyzer(limits: limits).analyze(try Corpus.bytes("exif-gps.jpg"))
        #expect(info.width == 1024 && info.height == 768)
        #expect(info.dominantColor == nil)
        #expect(info.takenAt == "2023-07-14T09:41:27+02:00")
    }
}
