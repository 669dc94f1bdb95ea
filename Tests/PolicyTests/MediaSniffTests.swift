import Foundation
import Testing

@testable import Policy

/// Content sniffing and type names (docs/policy.md "Content checks", "Rules").
struct MediaSniffTests {
    // MARK: The shared corpus

    struct CorpusRow: Sendable, CustomTestStringConvertible {
        var file: String
        var kind: MediaKind?
        var testDescription: String { "\(file) → \(kind?.rawValue ?? "nil")" }
    }

    /// Kinds from shared/corpus/README.md (format column; hostile files keep the header they claim).
    static let corpus: [CorpusRow] = [
        CorpusRow(file: "alpha.png", kind: .png),
        CorpusRow(file: "animated.gif", kind: .gif),
        CorpusRow(file: "cmyk-no-profile.jpg", kind: .jpeg),
        CorpusRow(file: "cmyk.jpg", kind: .jpeg),
        CorpusRow(file: "exif-gps.jpg", kind: .jpeg),
        CorpusRow(file: "exif-orientation-3.jpg", kind: .jpeg),
        CorpusRow(file: "exif-orientation-6.jpg", kind: .jpeg),
        CorpusRow(file: "exif-orientation-8.jpg", kind: .jpeg),
        CorpusRow(file: "gray.jpg", kind: .jpeg),
        CorpusRow(file: "gray.png", kind: .png),
        CorpusRow(file: "icc-adobergb.jpg", kind: .jpeg),
        CorpusRow(file: "icc-display-p3.jpg", kind: .jpeg),
        CorpusRow(file: "input.avif", kind: .avif),
        CorpusRow(file: "input.heic", kind: .heic),
        CorpusRow(file: "input.webp", kind: .webp),
        CorpusRow(file: "photo-large-progressive.jpg", kind: .jpeg),
        CorpusRow(file: "photo-large.jpg", kind: .jpeg),
        CorpusRow(file: "photo-mid.jpg", kind: .jpeg),
        CorpusRow(file: "png16.png", kind: .png),
        CorpusRow(file: "static.gif", kind: .gif),
        CorpusRow(file: "hostile/not-an-image.jpg", kind: nil),
        CorpusRow(file: "hostile/empty.jpg", kind: nil),
        CorpusRow(file: "hostile/truncated.jpg", kind: .jpeg),
        CorpusRow(file: "hostile/jpeg-huge-dimensions.jpg", kind: .jpeg),
        CorpusRow(file: "hostile/png-bomb-50000x50000.png", kind: .png),
    ]

    @Test(arguments: corpus)
    func sniffsCorpusFile(_ row: CorpusRow) throws {
        let data = try Corpus.bytes(row.file)
        #expect(MediaKind.sniff(data) == row.kind)
        // Only the first bytes are ever available before the body is read.
        #expect(MediaKind.sniff(Array(data.prefix(MediaKind.sniffLength))) == row.kind)
    }

    /// Every image at the top of the corpus, including files added later, sniffs as its extension says.
    @Test func everyCorpusImageSniffsAsItsExtension() throws {
        let byExtension: [String: MediaKind] = ["jpg": .jpeg, "jpeg": .jpeg, "png": .png, "gif": .gif, "webp": .webp, "avif": .avif, "heic": .heic]
        let names = try FileManager.default.contentsOfDirectory(atPath: Corpus.directory.path)
        var seen: Set<MediaKind> = []
        for name in names {
            guard let kind = byExtension[URL(fileURLWithPath: name).pathExtension.lowercased()] else { continue }
            let data = try Corpus.bytes(name)
            #expect(MediaKind.sniff(data) == kind, "\(name)")
            seen.insert(kind)
        }
        #expect(seen == [.jpeg, .png, .gif, .webp, .avif, .heic])
    }

    // MARK: Synthetic headers

    struct SniffRow: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var kind: MediaKind?
        var testDescription: String { "\(name) → \(kind?.rawValue ?? "nil")" }
    }

    static let synthetic: [SniffRow] = [
        SniffRow(name: "jpeg", bytes: Head.jpeg, kind: .jpeg),
        SniffRow(name: "png", bytes: Head.png, kind: .png),
        SniffRow(name: "gif89a", bytes: Head.gif, kind: .gif),
        SniffRow(name: "gif87a", bytes: Array("GIF87a".utf8) + [1, 0, 1, 0], kind: .gif),
        SniffRow(name: "webp", bytes: Head.webp, kind: .webp),
        SniffRow(name: "tiff II*\\0", bytes: Head.tiffLE, kind: .tiff),
        SniffRow(name: "tiff MM\\0*", bytes: Head.tiffBE, kind: .tiff),
        SniffRow(name: "mp4 ftypisom", bytes: Head.mp4, kind: .mp4),
        SniffRow(name: "quicktime ftypqt", bytes: Head.quicktime, kind: .quicktime),
        SniffRow(name: "quicktime moov first", bytes: Head.quicktimeMoov, kind: .quicktime),
        SniffRow(name: "avif ftypavif", bytes: Head.avif, kind: .avif),
        SniffRow(name: "mif1 + avif brand", bytes: Head.avifMif1, kind: .avif),
        SniffRow(name: "heic ftypheic", bytes: Head.heic, kind: .heic),
        SniffRow(name: "mif1 + heic brand", bytes: Head.heicMif1, kind: .heic),
        SniffRow(name: "html", bytes: Head.html, kind: nil),
        SniffRow(name: "text", bytes: Head.text, kind: nil),
        SniffRow(name: "empty", bytes: [], kind: nil),
        SniffRow(name: "two JPEG bytes", bytes: [0xFF, 0xD8], kind: nil),
        SniffRow(name: "RIFF but WAVE", bytes: Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WAVEfmt ".utf8), kind: nil),
        SniffRow(name: "PNG signature not at 0", bytes: [0x00] + Head.png, kind: nil),
    ]

    @Test(arguments: synthetic)
    func sniffsHeader(_ row: SniffRow) {
        #expect(MediaKind.sniff(row.bytes) == row.kind)
    }

    // MARK: Declared types

    struct MimeRow: Sendable, CustomTestStringConvertible {
        var mimeType: String
        var kind: MediaKind?
        var testDescription: String { "'\(mimeType)' → \(kind?.rawValue ?? "nil")" }
    }

    static let mimeTypes: [MimeRow] = [
        MimeRow(mimeType: "image/jpeg", kind: .jpeg),
        MimeRow(mimeType: "IMAGE/JPEG; charset=x", kind: .jpeg),
        MimeRow(mimeType: "image/png;charset=binary", kind: .png),
        MimeRow(mimeType: "image/gif", kind: .gif),
        MimeRow(mimeType: "image/webp", kind: .webp),
        MimeRow(mimeType: "image/tiff", kind: .tiff),
        MimeRow(mimeType: "image/avif", kind: .avif),
        MimeRow(mimeType: "image/heic", kind: .heic),
        MimeRow(mimeType: "image/heif", kind: .heic),
        MimeRow(mimeType: "video/mp4", kind: .mp4),
        MimeRow(mimeType: "Video/QuickTime", kind: .quicktime),
        MimeRow(mimeType: "text/html", kind: nil),
        MimeRow(mimeType: "text/html; charset=image/jpeg", kind: nil),
        MimeRow(mimeType: "application/octet-stream", kind: nil),
        MimeRow(mimeType: "image/jpegx", kind: nil),
        MimeRow(mimeType: "image", kind: nil),
        MimeRow(mimeType: "", kind: nil),
    ]

    @Test(arguments: mimeTypes)
    func kindOfDeclaredType(_ row: MimeRow) {
        #expect(MediaKind(mimeType: row.mimeType) == row.kind)
    }

    /// The stored MIME type of each kind names that kind again; the doc's names for a few.
    @Test(arguments: MediaKind.allCases)
    func canonicalMimeTypeRoundTrips(_ kind: MediaKind) {
        #expect(MediaKind(mimeType: kind.mimeType) == kind)
        #expect(kind.mimeType == kind.mimeType.lowercased())
    }

    @Test func normalizeLowercasesAndDropsParameters() {
        #expect(MediaKind.normalize(" Image/JPEG ; charset=x") == "image/jpeg")
        #expect(MediaKind.normalize("\tText/Plain\t") == "text/plain")
        #expect(MediaKind.normalize("video/mp4") == "video/mp4")
        #expect(MediaKind.normalize(";a=b") == "")
        #expect(MediaKind.normalize("   ") == "")
        #expect(MediaKind.normalize("") == "")
        #expect(MediaKind.isGeneric(" Application/Octet-Stream; x=y"))
        #expect(!MediaKind.isGeneric("image/png"))
    }

    @Test func canonicalMimeTypesFromTheDoc() {
        #expect(MediaKind.jpeg.mimeType == "image/jpeg")
        #expect(MediaKind.heic.mimeType == "image/heic")
        #expect(MediaKind.mp4.mimeType == "video/mp4")
        #expect(MediaKind.quicktime.mimeType == "video/quicktime")
    }

    static let generic: [(String?, Bool)] = [
        (nil, true),
        ("", true),
        ("application/octet-stream", true),
        ("binary/octet-stream", true),
        ("Application/Octet-Stream; charset=x", true),
        ("image/jpeg", false),
        ("text/plain", false),
        ("application/json", false),
    ]

    @Test(arguments: generic)
    func isGeneric(_ declared: String?, _ expected: Bool) {
        #expect(MediaKind.isGeneric(declared) == expected)
    }

    // MARK: Content type names

    @Test func contentTypeSetFromNames() throws {
        #expect(try ContentTypeSet(names: ["any"]) == .any)

        let photos = try ContentTypeSet(names: ["jpeg", "png"])
        #expect(photos.allows("image/jpeg"))
        #expect(photos.allows("Image/PNG; x=1"))
        #expect(!photos.allows("image/gif"))
        #expect(!photos.allows("image/webp"))
        #expect(!photos.allows("text/html"))

        let heic = try ContentTypeSet(names: ["heic"])
        #expect(heic.allows("image/heic"))
        #expect(heic.allows("image/heif"))
        #expect(!heic.allows("image/avif"))

        let video = try ContentTypeSet(names: ["mp4", "quicktime"])
        #expect(video.allows("video/mp4"))
        #expect(video.allows("video/quicktime"))
        #expect(!video.allows("image/jpeg"))

        // A full MIME type is accepted too.
        let icon = try ContentTypeSet(names: ["image/x-icon"])
        #expect(icon.allows("image/x-icon; q=1"))
        #expect(!icon.allows("image/png"))

        #expect(ContentTypeSet.any.allows("text/html"))
    }

    @Test(arguments: [["bogus"], ["jpeg", "bogus"], ["jpg2000"]])
    func unknownContentTypeNameThrows(_ names: [String]) {
        #expect(throws: PolicyConfigurationError.self) { try ContentTypeSet(names: names) }
    }
}

@Test(arguments: [
    ("image/jpeg", "image/jpeg"), ("Image/JPEG", "image/jpeg"), ("image/png; charset=binary", "image/png"),
    ("  image/webp\t", "image/webp"), ("text/plain;charset=UTF-8", "text/plain"), ("", ""), (" ; x", ""),
    ("application/x-ÉTÉ", "application/x-ÉtÉ"),
])
func contentTypesAreNormalized(declared: String, expected: String) {
    #expect(MediaKind.normalize(declared) == expected)
}
