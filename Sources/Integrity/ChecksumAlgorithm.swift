/// A checksum algorithm S3 accepts in `x-amz-checksum-*` headers and trailers.
///
/// The raw value is the spelling S3 uses in `x-amz-checksum-algorithm`,
/// `x-amz-sdk-checksum-algorithm` and in XML (`ChecksumCRC32`, ...).
public enum ChecksumAlgorithm: String, Sendable, CaseIterable, Hashable {
    /// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib's `crc32`.
    case crc32 = "CRC32"
    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
    case crc32c = "CRC32C"
    /// CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones).
    case crc64nvme = "CRC64NVME"
    /// SHA-1.
    case sha1 = "SHA1"
    /// SHA-256.
    case sha256 = "SHA256"

    /// The common prefix of every checksum header, lowercased.
    public static let headerPrefix = "x-amz-checksum-"

    /// Parses a header (or trailer) name such as `x-amz-checksum-crc32`, case-insensitively.
    ///
    /// Returns `nil` for any other name, including `x-amz-checksum-algorithm`,
    /// `x-amz-checksum-mode` and `x-amz-checksum-type`.
    public init?(headerName: String) {
        let lower = headerName.lowercased()
        guard lower.hasPrefix(Self.headerPrefix) else { return nil }
        self.init(algorithmName: String(lower.dropFirst(Self.headerPrefix.count)))
    }

    /// Parses an algorithm name such as `CRC32C` or `crc64nvme`, case-insensitively
    /// (the value of `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm`).
    public init?(algorithmName: String) {
        let upper = algorithmName.uppercased()
        guard let value = ChecksumAlgorithm(rawValue: upper) else { return nil }
        self = value
    }

    /// The header name carrying this checksum, lowercased: `x-amz-checksum-crc32`.
    public var headerName: String {
        Self.headerPrefix + rawValue.lowercased()
    }

    /// CRC-32 or CRC-32C: computed at tens of GB/s (ISA-L), next to nothing beside MD5.
    public var isCRC32Family: Bool { self == .crc32 || self == .crc32c }

    /// The length in bytes of the binary digest (4 for the CRC32s, 8 for CRC64NVME,
    /// 20 for SHA-1, 32 for SHA-256). Useful to validate a base64 header value.
    public var digestByteCount: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        }
    }

    /// The XML element name S3 uses for this checksum, e.g. `ChecksumCRC32C`.
    public var xmlElementName: String {
        "Checksum" + rawValue
    }
}
