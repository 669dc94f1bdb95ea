/// Percent-decoding and -encoding as S3 uses them.
public enum PercentEncoding {
    /// Decodes `%XX` escapes into bytes; with `plusAsSpace`, `+` becomes a space (query strings).
    /// Returns nil for a malformed escape or bytes that are not UTF-8.
    @inlinable
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool) -> String? {
        // Most keys and values have nothing to decode: the text is then the answer as it is.
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(text)
        }
        var malformed = false
        let bytes = decodeBytes(text.utf8, plusAsSpace: plusAsSpace, malformed: &malformed)
        return malformed ? nil : String(validating: bytes, as: UTF8.self)
    }

    /// Decodes `%XX` escapes in `encoded` into bytes (not necessarily UTF-8); with
    /// `plusAsSpace`, `+` becomes a space. A `%` not followed by two hex digits is kept as it is
    /// and sets `malformed`: S3 routing refuses such text, SigV4's canonical forms keep it.
    @inlinable
    public static func decodeBytes(
        _ encoded: some Collection<UInt8>, plusAsSpace: Bool, malformed: inout Bool
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count)
        appendDecoded(encoded, plusAsSpace: plusAsSpace, malformed: &malformed, to: &out)
        return out
    }

    /// ``decodeBytes(_:plusAsSpace:malformed:)`` appending to `out`.
    @inlinable
    public static func appendDecoded(
        _ encoded: some Collection<UInt8>, plusAsSpace: Bool, malformed: inout Bool, to out: inout [UInt8]
    ) {
        // Most parts have nothing to decode (of a presigned URL's parameters, only the
        // credential has escapes): those are copied whole rather than byte by byte.
        if !encoded.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            out.append(contentsOf: encoded)
            return
        }
        var index = encoded.startIndex
        while index != encoded.endIndex {
            let byte = encoded[index]
            index = encoded.index(after: index)
            if byte == UInt8(ascii: "%") {
                if index != encoded.endIndex, let high = hexDigit(encoded[index]) {
                    let next = encoded.index(after: index)
                    if next != encoded.endIndex, let low = hexDigit(encoded[next]) {
                        out.append(high << 4 | low)
                        index = encoded.index(after: next)
                        continue
                    }
                }
                malformed = true
                out.append(byte)
            } else if byte == UInt8(ascii: "+") && plusAsSpace {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
    }

    /// Encodes every byte except RFC 3986 unreserved characters (and `/` unless `encodeSlash`).
    /// This is the encoding S3 uses for `encoding-type=url` and SigV4 canonical forms.
    public static func encode(_ text: some StringProtocol, encodeSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if isUnreserved(byte) || (byte == UInt8(ascii: "/") && !encodeSlash) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// The value of one hex digit (either case), or nil.
    @inlinable
    public static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
