import Testing

@testable import VariantEngine

/// libvips' EXIF strings (format as `vipsheader -a` prints them) and ICC profile descriptions
/// (ICC.1:2001-04 `desc` textDescriptionType, ICC.1:2010 `mluc` multiLocalizedUnicodeType).
struct EXIFValuesTests {
    struct Coordinate: Sendable, CustomTestStringConvertible {
        var text: String
        var reference: String
        var degrees: Double?
        var testDescription: String { "\(text) \(reference)" }
    }

    @Test("coordinate", arguments: [
        // vipsheader -a exif-gps.jpg (README: 43.1972 N, 4.8156 W)
        Coordinate(text: "43/1 11/1 1248/25 (43, 11, 49.92, Rational, 3 components, 24 bytes)",
                   reference: "N (N, ASCII, 2 components, 2 bytes)", degrees: 43.1972),
        Coordinate(text: "4/1 48/1 1404/25 ( 4, 48, 56.16, Rational, 3 components, 24 bytes)",
                   reference: "W (W, ASCII, 2 components, 2 bytes)", degrees: -4.8156),
        Coordinate(text: "4/1 48/1 1404/25", reference: "E", degrees: 4.8156),
        Coordinate(text: "33/1 51/1 36/1", reference: "S", degrees: -(33 + 51.0 / 60 + 36.0 / 3600)),
        Coordinate(text: "151/1 12/1 36/1", reference: "E", degrees: 151.21),
        Coordinate(text: "4312/100 0/1 0/1", reference: "N", degrees: 43.12),
        Coordinate(text: "0/1 0/1 0/1", reference: "N", degrees: 0),
        // Bad rationals, wrong counts, bad references: unknown.
        Coordinate(text: "43/0 11/1 1248/25", reference: "N", degrees: nil),
        Coordinate(text: "43 11 49.92", reference: "N", degrees: nil),
        Coordinate(text: "a/b c/d e/f", reference: "N", degrees: nil),
        Coordinate(text: "43/1 11/1", reference: "N", degrees: nil),
        Coordinate(text: "43/1 11/1 1248/25 1/1", reference: "N", degrees: nil),
        Coordinate(text: "", reference: "N", degrees: nil),
        Coordinate(text: "43/1 11/1 1248/25", reference: "", degrees: nil),
        Coordinate(text: "43/1 11/1 1248/25", reference: "X", degrees: nil),
    ])
    func coordinate(_ input: Coordinate) {
        let value = EXIFValues.coordinate(input.text, reference: input.reference)
        guard let degrees = input.degrees else {
            #expect(value == nil, "\(String(describing: value))")
            return
        }
        #expect(abs((value ?? .nan) - degrees) < 0.000_001, "\(String(describing: value))")
    }

    struct Taken: Sendable, CustomTestStringConvertible {
        var text: String
        var offset: String
        var expected: String?
        var testDescription: String { "\(text) \(offset)" }
    }

    @Test("takenAt", arguments: [
        // vipsheader -a exif-gps.jpg
        Taken(text: "2023:07:14 09:41:27 (2023:07:14 09:41:27, ASCII, 20 components, 20 bytes)",
              offset: "+02:00 (+02:00, ASCII, 7 components, 7 bytes)", expected: "2023-07-14T09:41:27+02:00"),
        Taken(text: "2023:07:14 09:41:27", offset: "-05:00", expected: "2023-07-14T09:41:27-05:00"),
        // No offset: camera-local time, no zone.
        Taken(text: "2023:07:14 09:41:27", offset: "", expected: "2023-07-14T09:41:27"),
        Taken(text: "2023:07:14 09:41:27 (2023:07:14 09:41:27, ASCII, 20 components, 20 bytes)", offset: "",
              expected: "2023-07-14T09:41:27"),
        Taken(text: "2023:07:14 09:41:27", offset: "+2", expected: "2023-07-14T09:41:27"),
        // Unknown dates.
        Taken(text: "0000:00:00 00:00:00", offset: "+02:00", expected: nil),
        Taken(text: "0000:00:00 00:00:00 (0000:00:00 00:00:00, ASCII, 20 components, 20 bytes)", offset: "", expected: nil),
        Taken(text: "    :  :     :  :  ", offset: "", expected: nil),
        Taken(text: "", offset: "", expected: nil),
        Taken(text: "2023:07:14", offset: "", expected: nil),
        Taken(text: "yesterday at noon", offset: "", expected: nil),
    ])
    func takenAt(_ input: Taken) {
        #expect(EXIFValues.takenAt(input.text, offset: input.offset) == input.expected)
    }
}

struct ICCProfileTests {
    static func be32(_ value: Int) -> [UInt8] {
        [UInt8((value >> 24) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A profile: 128-byte header (size, `acsp`), tag count, tag table, tag data (4-byte aligned).
    static func profile(_ tags: [(String, [UInt8])]) -> [UInt8] {
        var data: [UInt8] = []
        var table: [UInt8] = []
        let dataStart = 128 + 4 + 12 * tags.count
        for (signature, tag) in tags {
            table += Array(signature.utf8) + be32(dataStart + data.count) + be32(tag.count)
            data += tag + Array(repeating: 0, count: (4 - tag.count % 4) % 4)
        }
        var header = [UInt8](repeating: 0, count: 128)
        let total = dataStart + data.count
        header.replaceSubrange(0..<4, with: be32(total))
        header.replaceSubrange(36..<40, with: Array("acsp".utf8))
        return header + be32(tags.count) + table + data
    }

    /// ICC v2 textDescriptionType: ASCII (count includes the NUL), empty Unicode and ScriptCode parts.
    static func descV2(_ text: String) -> [UInt8] {
        let ascii = Array(text.utf8) + [0]
        return Array("desc".utf8) + [0, 0, 0, 0] + be32(ascii.count) + ascii
            + [0, 0, 0, 0] + [0, 0, 0, 0] + [0, 0] + [0] + Array(repeating: 0, count: 67)
    }

    /// ICC v4 multiLocalizedUnicodeType with one record (UTF-16BE).
    static func mluc(_ text: String, language: String = "en", country: String = "US") -> [UInt8] {
        let utf16 = text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        return Array("mluc".utf8) + [0, 0, 0, 0] + be32(1) + be32(12)
            + Array(language.utf8) + Array(country.utf8) + be32(utf16.count) + be32(28) + utf16
    }

    static func text(_ text: String) -> [UInt8] { Array("text".utf8) + [0, 0, 0, 0] + Array(text.utf8) + [0] }

    @Test("v2 desc")
    func v2() {
        #expect(ICCProfile.description(Self.profile([("desc", Self.descV2("sP3C"))])) == "sP3C")
        let named = Self.profile([("cprt", Self.text("Public Domain")), ("desc", Self.descV2("My Profile v2"))])
        #expect(ICCProfile.description(named) == "My Profile v2")
    }

    @Test("v4 mluc")
    func v4() {
        #expect(ICCProfile.description(Self.profile([("desc", Self.mluc("Display P3"))])) == "Display P3")
        let named = Self.profile([("cprt", Self.mluc("CC0")), ("desc", Self.mluc("Wide – gamut é"))])
        #expect(ICCProfile.description(named) == "Wide – gamut é")
    }

    @Test("garbage and broken profiles have no description")
    func garbage() {
        #expect(ICCProfile.description([]) == nil)
        #expect(ICCProfile.description(Array(repeating: 0x41, count: 10)) == nil)
        #expect(ICCProfile.description(Array(repeating: 0xFF, count: 200)) == nil)
        #expect(ICCProfile.description(Array(repeating: 0x00, count: 4096)) == nil)
        #expect(ICCProfile.description(Array("not a profile at all".utf8)) == nil)
        // No desc tag.
        #expect(ICCProfile.description(Self.profile([("cprt", Self.text("Public Domain"))])) == nil)
        // A desc tag of another type.
        #expect(ICCProfile.description(Self.profile([("desc", Self.text("Plain text"))])) == nil)
        // An empty description.
        #expect(ICCProfile.description(Self.profile([("desc", Self.descV2(""))])) == nil)
        // The desc tag points past the end of the profile.
        var cut = Self.profile([("desc", Self.descV2("sP3C"))])
        cut.removeLast(40)
        #expect(ICCProfile.description(cut) == nil)
        // The ASCII count claims more than the tag holds.
        var long = Self.descV2("abc")
        long.replaceSubrange(8..<12, with: Self.be32(100_000))
        #expect(ICCProfile.description(Self.profile([("desc", long)])) == nil)
    }

    /// The ICC profile of a JPEG: its `ICC_PROFILE` APP2 segments, in sequence order.
    static func iccFromJPEG(_ bytes: [UInt8]) -> [UInt8]? {
        let signature = Array("ICC_PROFILE".utf8) + [0]
        var pieces: [(sequence: Int, bytes: [UInt8])] = []
        var offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF {
            let marker = bytes[offset + 1]
            if marker == 0xDA || marker == 0xD9 { break }
            let end = offset + 2 + (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]))
            guard end <= bytes.count else { return nil }
            if marker == 0xE2, bytes[(offset + 4)..<end].starts(with: signature) {
                pieces.append((Int(bytes[offset + 4 + 12]), Array(bytes[(offset + 4 + 14)..<end])))
            }
            offset = end
        }
        return pieces.isEmpty ? nil : pieces.sorted { $0.sequence < $1.sequence }.flatMap(\.bytes)
    }

    struct Embedded: Sendable, CustomTestStringConvertible {
        var file: String
        var description: String
        var testDescription: String { file }
    }

    /// `exiftool -ProfileDescription FILE`.
    @Test("profiles embedded in corpus JPEGs", arguments: [
        Embedded(file: "icc-display-p3.jpg", description: "sP3C"),
        Embedded(file: "icc-adobergb.jpg", description: "Compatible with Adobe RGB (1998)"),
        Embedded(file: "cmyk.jpg", description: "Chemical proof"),
    ])
    func embedded(_ input: Embedded) throws {
        let profile = try #require(Self.iccFromJPEG(try Corpus.bytes(input.file)))
        #expect(profile[36..<40].elementsEqual("acsp".utf8))
        #expect(ICCProfile.description(profile) == input.description)
    }
}
