/// Lowercase hexadecimal, as S3 uses in ETags and `x-amz-content-sha256`.
public enum Hex {
    @usableFromInline
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Encodes `bytes` as lowercase hex.
    ///
    /// Inlinable so that callers in other modules get a specialized copy: the generic one read
    /// each element of a digest through an unspecialized coroutine, one allocation per byte.
    @inlinable
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var output = [UInt8]()
        // A digest is a plain Sequence whose underestimatedCount is 0: without the floor, its
        // 32 hex digits grew the buffer five times (bench/PROFILE.md, allocations per PUT).
        output.reserveCapacity(max(bytes.underestimatedCount * 2, 64))
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes hex (either case). Returns `nil` for an odd length or a non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 2 == 0 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 2)
        var index = 0
        while index < input.count {
            guard let high = nibble(input[index]), let low = nibble(input[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
