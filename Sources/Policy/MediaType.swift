/// The media types policy knows by name, with the signature of their first bytes.
public enum MediaKind: String, Sendable, CaseIterable {
    case jpeg, png, gif, webp, tiff, avif, heic, mp4, quicktime

    /// The canonical MIME type stored for this kind.
    public var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .tiff: "image/tiff"
        case .avif: "image/avif"
        case .heic: "image/heic"
        case .mp4: "video/mp4"
        case .quicktime: "video/quicktime"
        }
    }

    /// Every MIME type that declares this kind (lowercase, without parameters).
    public var mimeTypes: [String] {
        switch self {
        case .jpeg: ["image/jpeg", "image/jpg", "image/pjpeg"]
        case .png: ["image/png"]
        case .gif: ["image/gif"]
        case .webp: ["image/webp"]
        case .tiff: ["image/tiff"]
        case .avif: ["image/avif"]
        case .heic: ["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"]
        case .mp4: ["video/mp4"]
        case .quicktime: ["video/quicktime"]
        }
    }

    /// The kind a declared MIME type names, if it is one with a known signature.
    public init?(mimeType: String) {
        let normalized = MediaKind.normalize(mimeType)
        guard let kind = MediaKind.allCases.first(where: { $0.mimeTypes.contains(normalized) }) else { return nil }
        self = kind
    }

    /// Lowercases a `Content-Type` and drops its parameters (`; charset=...`).
    public static func normalize(_ contentType: String) -> String {
        // On bytes: this runs several times per upload, and Character-level split/trim/lowercase
        // showed up in PUT profiles (bench/PROFILE.md). Only ASCII letters are lowercased, as
        // in HTTP's case-insensitive tokens.
        let utf8 = contentType.utf8
        // Most types are already normal (`image/jpeg`): then the text itself, with no copy.
        let alreadyNormal = !utf8.contains {
            $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t")
                || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
        }
        if alreadyNormal { return contentType }
        let end = utf8.firstIndex(of: UInt8(ascii: ";")) ?? utf8.endIndex
        var bytes = Array(utf8[..<end])
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? bytes.endIndex
        var lowered = [UInt8]()
        lowered.reserveCapacity(bytes.count - start)
        for byte in bytes[start...] {
            lowered.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        return String(decoding: lowered, as: UTF8.self)
    }

    /// Whether a declared type says nothing about the content (missing, or octet-stream).
    public static func isGeneric(_ contentType: String?) -> Bool {
        guard let contentType else { return true }
        let normalized = normalize(contentType)
        return normalized.isEmpty || normalized == "application/octet-stream" || normalized == "binary/octet-stream"
    }

    /// How many leading bytes ``sniff(_:)`` needs to decide.
    public static let sniffLength = 64

    /// The kind whose signature the first bytes carry, or nil when none matches.
    /// - Parameter head: the first bytes of the content (``sniffLength`` when the content is that long).
    public static func sniff(_ head: some Collection<UInt8>) -> MediaKind? {
        let bytes = Array(head.prefix(sniffLength))
        // Signatures are static: built per call, they were a dozen allocations per upload.
        func at(_ offset: Int, _ expected: [UInt8]) -> Bool {
            bytes.count >= offset + expected.count && bytes[offset..<(offset + expected.count)].elementsEqual(expected)
        }
        func at(_ offset: Int, _ expected: StaticString) -> Bool {
            expected.withUTF8Buffer { at(offset, $0) }
        }
        func at(_ offset: Int, _ expected: UnsafeBufferPointer<UInt8>) -> Bool {
            bytes.count >= offset + expected.count && bytes[offset..<(offset + expected.count)].elementsEqual(expected)
        }
        if at(0, Signature.jpeg) { return .jpeg }
        if at(0, Signature.png) { return .png }
        if at(0, "GIF87a") || at(0, "GIF89a") { return .gif }
        if at(0, "RIFF") && at(8, "WEBP") { return .webp }
        if at(0, Signature.tiffLittleEndian) || at(0, Signature.tiffBigEndian) { return .tiff }
        if at(4, "ftyp") { return isoBrand(bytes) }
        // QuickTime files may start with other atoms than ftyp.
        for atom in Signature.quickTimeAtoms where at(4, atom) { return .quicktime }
        return nil
    }

    private enum Signature {
        static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
        static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        static let tiffLittleEndian: [UInt8] = [0x49, 0x49, 0x2A, 0x00]
        static let tiffBigEndian: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A]
        static let quickTimeAtoms: [StaticString] = ["moov", "mdat", "wide", "free", "pnot"]
    }

    /// Reads the major and compatible brands of an ISO base media `ftyp` box.
    private static func isoBrand(_ bytes: [UInt8]) -> MediaKind? {
        guard bytes.count >= 12 else { return nil }
        let boxSize = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        var brands = [String(decoding: bytes[8..<12], as: UTF8.self)]
        var offset = 16
        while offset + 4 <= min(boxSize, bytes.count) {
            brands.append(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self))
            offset += 4
        }
        let major = brands[0]
        if ["avif", "avis"].contains(major) { return .avif }
        if ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].contains(major) {
            // A `mif1` file lists what it holds among its compatible brands.
            if major == "mif1" || major == "msf1", brands.contains("avif") || brands.contains("avis") { return .avif }
            return .heic
        }
        if major == "qt  " { return .quicktime }
        if ["isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "M4V ", "mmp4", "MSNV", "3gp4", "3gp5"].contains(major) {
            return .mp4
        }
        return nil
    }
}

/// A set of allowed content types: any, or a list of MIME types.
public enum ContentTypeSet: Sendable, Equatable {
    case any
    /// Allowed MIME types, lowercase without parameters.
    case only(Set<String>)

    /// Parses names from a rule: `jpeg`, `png`, … (``MediaKind`` names), a full MIME type, or
    /// the single word `any`.
    /// - Throws: ``PolicyConfigurationError`` for an unknown name.
    public init(names: [String]) throws(PolicyConfigurationError) {
        if names.count == 1, names[0].lowercased() == "any" {
            self = .any
            return
        }
        var types: Set<String> = []
        for name in names {
            if let kind = MediaKind(rawValue: name.lowercased()) {
                types.formUnion(kind.mimeTypes)
            } else if name.contains("/") {
                types.insert(MediaKind.normalize(name))
            } else {
                throw PolicyConfigurationError("unknown content type '\(name)' (use jpeg, png, gif, webp, tiff, avif, heic, mp4, quicktime, any, or a MIME type)")
            }
        }
        self = .only(types)
    }

    /// Whether a MIME type is allowed.
    public func allows(_ mimeType: String) -> Bool {
        switch self {
        case .any: true
        case .only(let types): types.contains(MediaKind.normalize(mimeType))
        }
    }
}
