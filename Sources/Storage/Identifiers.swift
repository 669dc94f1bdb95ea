import Foundation

/// The name of an immutable blob of bytes: 32 lowercase hex digits (128 random bits).
///
/// Blob ids, never keys, become file names, and ``init(_:)`` accepts nothing but hex digits, so
/// an id read back from a database cannot name a path outside the blob directory.
public struct BlobID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 hex digits.
    public let rawValue: String

    /// Validates a stored id; nil unless it is exactly 32 lowercase hex digits.
    public init?(_ rawValue: String) {
        let bytes = rawValue.utf8
        guard bytes.count == 32, bytes.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) { self.rawValue = rawValue }

    /// A fresh random id.
    public static func random() -> BlobID {
        var generator = SystemRandomNumberGenerator()
        return BlobID(unchecked: HexDigits.of(UInt64.random(in: .min ... .max, using: &generator), count: 16)
            + HexDigits.of(UInt64.random(in: .min ... .max, using: &generator), count: 16))
    }

    /// The first two hex digits: the blob's fan-out directory.
    public var fanOut: String { String(rawValue.prefix(2)) }

    /// The hex digits.
    public var description: String { rawValue }

    /// Orders ids by their digits.
    public static func < (lhs: BlobID, rhs: BlobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Multipart upload ids: 12 hex digits of the initiation time in milliseconds, then 20 random hex
/// digits, so that ids sort in initiation order and listings can order by (key, id).
public enum UploadID {
    /// A new id for an upload initiated at `initiated`.
    public static func make(initiated: Date) -> String {
        let millis = UInt64(max(0, StorageClock.milliseconds(of: initiated)))
        var generator = SystemRandomNumberGenerator()
        let random = UInt64.random(in: .min ... .max, using: &generator)
        let more = UInt64.random(in: 0..<(1 << 16), using: &generator)
        return HexDigits.of(millis, count: 12) + HexDigits.of(random, count: 16) + HexDigits.of(more, count: 4)
    }
}

/// Timestamps as stores keep them: whole milliseconds since 1970, so a time survives a round
/// trip through an integer column unchanged.
public enum StorageClock {
    /// Now, truncated to whole milliseconds.
    public static func now() -> Date { date(milliseconds: milliseconds(of: Date())) }

    /// Milliseconds since 1970 (rounded to the nearest).
    public static func milliseconds(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// The date `milliseconds` after 1970.
    public static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

/// Fixed-width lowercase hex digits for identifiers (digests use ``Integrity/Hex``).
enum HexDigits {
    private static let alphabet = Array("0123456789abcdef".utf8)

    /// `value` as exactly `count` hex digits (the low `4 * count` bits).
    static func of(_ value: UInt64, count: Int) -> String {
        var out = [UInt8](repeating: 48, count: count)
        var rest = value
        for index in stride(from: count - 1, through: 0, by: -1) {
            out[index] = alphabet[Int(rest & 0xF)]
            rest >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}
