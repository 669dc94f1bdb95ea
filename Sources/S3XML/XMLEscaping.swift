/// The one escape function used for all XML output (text and attribute values).
///
/// - `&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`.
/// - Every C0 control character (U+0000–U+001F, tab, LF and CR included) and the
///   non-characters U+FFFE / U+FFFF become a hexadecimal character reference such as
///   `&#x1;`, `&#x9;`, `&#xD;`.
/// - Everything else (all other Unicode, DEL and C1 controls included) is copied as UTF-8.
///
/// This matches what AWS S3 does for object keys: it writes `&#x1;`-style references for
/// control characters. Such references are not allowed by XML 1.0 for C0 controls other
/// than tab, LF and CR, so strict XML 1.0 clients (expat, Go's encoding/xml) reject them;
/// this is why S3 offers `encoding-type=url`. ``XMLDocumentParser`` accepts them.
/// Tab, LF and CR are escaped too so a conforming parser hands back the exact bytes
/// (it would otherwise normalize CR and, in attributes, all three to spaces).
public enum XMLEscaping {
    /// `true` for the bytes that need a closer look. Indexed by byte.
    private static let needsEscape: [Bool] = (0..<256).map { byte in
        byte < 0x20 || byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27
            || byte == 0xEF
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Appends the escaped UTF-8 of `text` to `output`.
    public static func escape(_ text: String, into output: inout [UInt8]) {
        var text = text
        text.withUTF8 { escape(utf8: $0, into: &output) }
    }

    /// Returns `text` escaped.
    public static func escaped(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + 16)
        escape(text, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the escaped form of valid UTF-8 `input` to `output`.
    static func escape(utf8 input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        needsEscape.withUnsafeBufferPointer { table in
            var runStart = 0
            var index = 0
            let count = input.count
            while index < count {
                let byte = input[index]
                guard table[Int(byte)] else {
                    index += 1
                    continue
                }
                var replacement: StaticString?
                var scalar: UInt32 = UInt32(byte)
                var width = 1
                switch byte {
                case 0x26: replacement = "&amp;"
                case 0x3C: replacement = "&lt;"
                case 0x3E: replacement = "&gt;"
                case 0x22: replacement = "&quot;"
                case 0x27: replacement = "&apos;"
                case 0xEF:
                    // U+FFFE is EF BF BE and U+FFFF is EF BF BF; other EF sequences pass.
                    guard index + 2 < count, input[index + 1] == 0xBF, input[index + 2] >= 0xBE else {
                        index += 1
                        continue
                    }
                    scalar = 0xFFFE + UInt32(input[index + 2] - 0xBE)
                    width = 3
                default:
                    break  // C0 control
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index]))
                if let replacement {
                    replacement.withUTF8Buffer { output.append(contentsOf: $0) }
                } else {
                    appendCharacterReference(scalar, to: &output)
                }
                index += width
                runStart = index
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<count]))
        }
    }

    /// Appends `&#xH;` (uppercase hex, no leading zeros).
    private static func appendCharacterReference(_ scalar: UInt32, to output: inout [UInt8]) {
        output.append(contentsOf: [0x26, 0x23, 0x78])  // "&#x"
        var shift = 28
        while shift > 0 && (scalar >> UInt32(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            output.append(hexDigits[Int((scalar >> UInt32(shift)) & 0xF)])
            shift -= 4
        }
        output.append(0x3B)  // ";"
    }
}
