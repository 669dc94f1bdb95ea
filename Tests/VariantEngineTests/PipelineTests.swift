import Foundation
import Testing

@testable import VariantEngine

/// The shared corpus beside the repository (`/work/shared/corpus` for `/work/main`).
enum Corpus {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/corpus")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// A normal corpus file and its display size (after EXIF orientation), from the corpus README.
struct Sample: Sendable, CustomTestStringConvertible {
    var file: String
    var width: Int
    var height: Int
    var testDescription: String { file }

    static let all: [Sample] = [
        Sample(file: "photo-large.jpg", width: 5312, height: 2988),
        Sample(file: "photo-large-progressive.jpg", width: 5312, height: 2988),
        Sample(file: "photo-mid.jpg", width: 2048, height: 1536),
        Sample(file: "alpha.png", width: 500, height: 500),
        Sample(file: "gray.png", width: 512, height: 512),
        Sample(file: "gray.jpg", width: 512, height: 512),
        Sample(file: "static.gif", width: 600, height: 400),
        Sample(file: "animated.gif", width: 320, height: 180),
        Sample(file: "input.webp", width: 1024, height: 768),
        Sample(file: "input.heic", width: 1024, height: 768),
        Sample(file: "input.avif", width: 1024, height: 768),
        Sample(file: "exif-orientation-6.jpg", width: 1152, height: 1536),
        Sample(file: "exif-orientation-3.jpg", width: 576, height: 768),
        Sample(file: "exif-orientation-8.jpg", width: 576, height: 768),
        Sample(file: "exif-gps.jpg", width: 1024, height: 768),
        Sample(file: "cmyk.jpg", width: 800, height: 600),
        Sample(file: "cmyk-no-profile.jpg", width: 800, height: 600),
        Sample(file: "icc-display-p3.jpg", width: 1024, height: 768),
        Sample(file: "icc-adobergb.jpg", width: 1024, height: 768),
        Sample(file: "png16.png", width: 512, height: 384),
    ]

    /// The size a preset should give: never enlarged, aspect ratio kept (±1 px of rounding).
    func expected(_ preset: VariantPreset) -> (width: Int, height: Int) {
        let scale: Double
        switch preset.sizing {
        case .width(let target): scale = min(1, Double(target) / Double(width))
        case .longestEdge(let edge): scale = min(1, Double(edge) / Double(max(width, height)))
        }
        return (Int((Double(width) * scale).rounded()), Int((Double(height) * scale).rounded()))
    }
}

/// Format signatures, from the formats' specifications.
func hasMagic(_ bytes: [UInt8], of format: VariantFormat) -> Bool {
    switch format {
    case .jpg: return bytes.starts(with: [0xFF, 0xD8, 0xFF])
    case .png: return bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    case .webp: return bytes.count > 12 && bytes[0..<4].elementsEqual("RIFF".utf8) && bytes[8..<12].elementsEqual("WEBP".utf8)
    case .avif: return bytes.count > 12 && bytes[4..<8].elementsEqual("ftyp".utf8) && bytes[8..<12].elementsEqual("avif".utf8)
    }
}

/// Byte patterns that only appear when metadata is present: an EXIF block, XMP (and its GPS
/// properties), IPTC (Photoshop IRB), the corpus camera's make (an EXIF ASCII field). Long
/// enough not to occur by chance in compressed pixels (a 3-byte "GPS" did, in one PNG).
func metadataMarkers(in bytes: [UInt8]) -> [String] {
    let patterns = ["Exif\0\0", "http://ns.adobe.com/xap/1.0/", "exif:GPS", "Photoshop 3.0", "CorpusCam"]
    return patterns.filter { pattern in
        let needle = Array(pattern.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

extension VariantPipeline {
    /// Worker threads of their own for these tests' libvips work, two of them, as the server
    /// runs it. A synchronous test body runs on one of the cooperative pool's threads (two on a
    /// two-core machine) and holds it for as long as libvips works: with the pipeline's many
    /// cases running at once, the other suites' tests got no thread for minutes, long enough for
    /// a presigned URL signed just before its request to expire. The bound admits every case
    /// at once; the threads live as long as the test process.
    private static let testWorkers = VariantWorkers(threads: 2, queueBound: 4096)

    /// ``derive(source:preset:format:watermark:)`` on ``testWorkers``.
    func deriveOffPool(source: [UInt8], preset: VariantPreset, format: VariantFormat, watermark: String) async throws -> DerivedImage {
        try await Self.testWorkers.run { () throws(VariantError) in
            try self.derive(source: source, preset: preset, format: format, watermark: watermark)
        }
    }
}

struct PipelineTests {
    let pipeline = VariantPipeline()
    static let thumb400 = VariantPreset.defaults.first { $0.name == "thumb-400" }!
    static let watermarked = VariantPreset.defaults.first { $0.name == "watermarked" }!

    @Test("thumb-400 of every corpus file in every format", arguments: Sample.all, VariantFormat.allCases)
    func thumbnails(_ sample: Sample, _ format: VariantFormat) async throws {
        let image = try await pipeline.deriveOffPool(source: try Corpus.bytes(sample.file), preset: Self.thumb400, format: format, watermark: "© test")
        let expected = sample.expected(Self.thumb400)
        #expect(abs(image.width - expected.width) <= 1 && abs(image.height - expected.height) <= 1,
                "\(image.width)x\(image.height), expected \(expected.width)x\(expected.height)")
        #expect(hasMagic(image.bytes, of: format))
        #expect(metadataMarkers(in: image.bytes).isEmpty, "metadata left: \(metadataMarkers(in: image.bytes))")
        // The result decodes again, at the size reported.
        let header = try pipeline.readHeader(image.bytes)
        #expect(header.width == image.width && header.height == image.height)
        #expect(header.orientation == 1)
    }

    @Test("every corpus file yields every preset in every format", arguments: Sample.all, VariantPreset.defaults)
    func everyPresetEveryFormat(_ sample: Sample, _ preset: VariantPreset) async throws {
        let source = try Corpus.bytes(sample.file)
        let expected = sample.expected(preset)
        for format in VariantFormat.allCases {
            let image = try await pipeline.deriveOffPool(source: source, preset: preset, format: format, watermark: "© corpus")
            #expect(abs(image.width - expected.width) <= 1 && abs(image.height - expected.height) <= 1,
                    "\(preset.name).\(format): \(image.width)x\(image.height), expected \(expected.width)x\(expected.height)")
            #expect(hasMagic(image.bytes, of: format), "\(preset.name).\(format)")
            #expect(metadataMarkers(in: image.bytes).isEmpty, "\(preset.name).\(format): \(metadataMarkers(in: image.bytes))")
        }
    }

    @Test("every preset keeps the aspect ratio and never enlarges", arguments: VariantPreset.defaults)
    func presets(_ preset: VariantPreset) async throws {
        for sample in [Sample.all[2], Sample.all[3], Sample.all[11]] {
            let image = try await pipeline.deriveOffPool(source: try Corpus.bytes(sample.file), preset: preset, format: .jpg, watermark: "© test")
            let expected = sample.expected(preset)
            #expect(abs(image.width - expected.width) <= 1 && abs(image.height - expected.height) <= 1,
                    "\(sample.file) \(preset.name): \(image.width)x\(image.height), expected \(expected.width)x\(expected.height)")
        }
    }

    @Test("the watermark changes pixels, and only in its corner")
    func watermarkIsDrawn() async throws {
        let source = try Corpus.bytes("photo-mid.jpg")
        let plain = VariantPreset(name: "plain-2048", sizing: .longestEdge(2048))
        let a = try await pipeline.deriveOffPool(source: source, preset: plain, format: .png, watermark: "")
        let b = try await pipeline.deriveOffPool(source: source, preset: Self.watermarked, format: .png, watermark: "© acme gallery")
        #expect(a.width == b.width && a.height == b.height)
        #expect(a.bytes != b.bytes)
    }

    struct Hostile: Sendable, CustomTestStringConvertible {
        var file: String
        var code: VariantError.Code
        var testDescription: String { file }
    }

    @Test("hostile inputs are refused with a clear code", arguments: [
        Hostile(file: "hostile/empty.jpg", code: .invalidImage),
        Hostile(file: "hostile/truncated.jpg", code: .invalidImage),
        Hostile(file: "hostile/not-an-image.jpg", code: .invalidImage),
        Hostile(file: "hostile/png-bomb-50000x50000.png", code: .imageTooLarge),
        Hostile(file: "hostile/jpeg-huge-dimensions.jpg", code: .imageTooLarge),
    ])
    func hostile(_ input: Hostile) async throws {
        let source = try Corpus.bytes(input.file)
        await #expect(throws: VariantError.self) {
            _ = try await pipeline.deriveOffPool(source: source, preset: Self.thumb400, format: .jpg, watermark: "")
        }
        do {
            _ = try await pipeline.deriveOffPool(source: source, preset: Self.thumb400, format: .jpg, watermark: "")
        } catch let error as VariantError {
            #expect(error.code == input.code, "\(error)")
        }
    }

    @Test("byte limit before anything is read")
    func byteLimit() throws {
        var limits = ImageLimits()
        limits.maxBytes = 1000
        let small = VariantPipeline(limits: limits)
        let source = try Corpus.bytes("gray.jpg")
        do {
            _ = try small.derive(source: source, preset: Self.thumb400, format: .jpg, watermark: "")
            Issue.record("a 59 KB source passed a 1000-byte limit")
        } catch {
            #expect(error.code == .imageTooLarge)
        }
    }
}
