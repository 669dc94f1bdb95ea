/// Standard base64 (RFC 4648 §4, with `=` padding), as S3 uses for `Content-MD5` and
/// `x-amz-checksum-*` values. No Foundation needed.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps an ASCII byte to its 6-bit value, or 0xFF when it is not in the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// Encodes `bytes` as padded base64.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(value >> 18)])
            output.append(alphabet[Int((value >> 12) & 0x3F)])
            output.append(alphabet[Int((value >> 6) & 0x3F)])
            output.append(alphabet[Int(value & 0x3F)])
            index += 3
        }
        let rest = input.count - index
        if rest == 1 {
            let value = UInt32(input[index]) << 16
            output.append(alphabet[Int(value >> 18)])
            output.append(alphabet[Int((value >> 12) & 0x3F)])
            output.append(UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(value >> 18)])
            output.append(alphabet[Int((value >> 12) & 0x3F)])
            output.append(alphabet[Int((value >> 6) & 0x3F)])
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes padded base64 strictly: the length must be a multiple of 4, only the
    /// standard alphabet is allowed, padding only at the end, and unused trailing bits
    /// must be zero (so every value has exactly one accepted spelling).
    /// Returns `nil` for anything else, including whitespace.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        if input.isEmpty { return [] }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                let sextet: UInt8
                if isLast && offset >= 4 - padding {
                    sextet = 0
                } else {
                    sextet = decodeTable[Int(byte)]
                    if sextet == 0xFF { return nil }
                }
                value = value << 6 | UInt32(sextet)
            }
            output.append(UInt8(value >> 16))
            if !(isLast && padding == 2) { output.append(UInt8((value >> 8) & 0xFF)) }
            if !(isLast && padding >= 1) { output.append(UInt8(value & 0xFF)) }
            if isLast {
                // Reject non-canonical encodings (non-zero bits hidden under the padding).
                if padding == 2 && (value >> 8) & 0xFF != 0 { return nil }
                if padding == 1 && value & 0xFF != 0 { return nil }
            }
            index += 4
        }
        return output
    }
}
