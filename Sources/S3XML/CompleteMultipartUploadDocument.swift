/// One `<Part>` of a CompleteMultipartUpload request.
public struct CompletedPart: Sendable, Equatable {
    /// `<PartNumber>` as given. Range (1...10,000), ascending order and uniqueness are
    /// S3 semantics (`InvalidArgument`, `InvalidPartOrder`), checked by the caller.
    public var partNumber: Int
    /// `<ETag>` as given, trimmed; usually quoted (`"…"`). See ``etagWithoutQuotes``.
    public var etag: String
    /// `<ChecksumCRC32>`, if given (trimmed base64).
    public var checksumCRC32: String?
    /// `<ChecksumCRC32C>`, if given.
    public var checksumCRC32C: String?
    /// `<ChecksumCRC64NVME>`, if given.
    public var checksumCRC64NVME: String?
    /// `<ChecksumSHA1>`, if given.
    public var checksumSHA1: String?
    /// `<ChecksumSHA256>`, if given.
    public var checksumSHA256: String?

    /// Makes a part.
    public init(
        partNumber: Int, etag: String, checksumCRC32: String? = nil, checksumCRC32C: String? = nil,
        checksumCRC64NVME: String? = nil, checksumSHA1: String? = nil, checksumSHA256: String? = nil
    ) {
        self.partNumber = partNumber
        self.etag = etag
        self.checksumCRC32 = checksumCRC32
        self.checksumCRC32C = checksumCRC32C
        self.checksumCRC64NVME = checksumCRC64NVME
        self.checksumSHA1 = checksumSHA1
        self.checksumSHA256 = checksumSHA256
    }

    /// The ETag with one pair of surrounding double quotes removed (S3 accepts both).
    public var etagWithoutQuotes: String {
        let utf8 = etag.utf8
        guard utf8.count >= 2, utf8.first == 0x22, utf8.last == 0x22 else { return etag }
        return String(decoding: utf8.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// The body of CompleteMultipartUpload:
/// `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…`.
public struct CompleteMultipartUploadDocument: Sendable, Equatable {
    /// S3's maximum number of parts in one upload.
    public static let maxParts = 10_000

    /// The parts, in document order.
    public var parts: [CompletedPart]

    /// Makes a document.
    public init(parts: [CompletedPart]) {
        self.parts = parts
    }

    /// Parses a request body. Throws ``XMLParseError`` (answer `MalformedXML`) for any
    /// XML error, a wrong root, no parts, a part without exactly one `PartNumber`
    /// (digits) and one `ETag`, or more than ``maxParts`` parts (`tooLarge`).
    /// Unknown elements are ignored.
    public init(parsing bytes: some Collection<UInt8>, limits: XMLLimits = .init()) throws(XMLParseError) {
        try self.init(element: XMLDocumentParser.parse(bytes, limits: limits))
    }

    /// Reads the document from a parsed root element.
    public init(element root: XMLElementNode) throws(XMLParseError) {
        try root.requireName("CompleteMultipartUpload")
        var parts: [CompletedPart] = []
        for part in root.children where part.name == "Part" {
            guard parts.count < Self.maxParts else {
                throw XMLParseError(.tooLarge, "more than \(Self.maxParts) parts")
            }
            let number = try part.requiredSingleChild("PartNumber").nonNegativeIntegerValue()
            let etag = try part.requiredSingleChild("ETag")
            try etag.requireNoChildren()
            parts.append(CompletedPart(
                partNumber: number,
                etag: etag.trimmedText,
                checksumCRC32: try part.optionalValue("ChecksumCRC32"),
                checksumCRC32C: try part.optionalValue("ChecksumCRC32C"),
                checksumCRC64NVME: try part.optionalValue("ChecksumCRC64NVME"),
                checksumSHA1: try part.optionalValue("ChecksumSHA1"),
                checksumSHA256: try part.optionalValue("ChecksumSHA256")
            ))
        }
        guard !parts.isEmpty else {
            throw XMLParseError(.malformed, "<CompleteMultipartUpload> without <Part>")
        }
        self.parts = parts
    }

    /// Whether part numbers are strictly ascending (S3 answers `InvalidPartOrder` if not).
    public var partNumbersAreStrictlyAscending: Bool {
        zip(parts, parts.dropFirst()).allSatisfy { $0.partNumber < $1.partNumber }
    }
}
