/// Splitting a raw query string (`a=1&b&c=%20`) into percent-decoded byte pairs, on bytes.
///
/// The request path parses every query (SigV4 verification and S3 routing); done on
/// `Character`s, with `split` and `firstIndex(of:)` on `Substring`, that was a fifth of the
/// server's CPU per presigned GET (bench/PROFILE.md).
public enum QueryString {
    /// One parameter: name and value, percent-decoded, `+` as a space; `malformed` when an
    /// escape in either was not `%` followed by two hex digits (kept literally then).
    public struct Item: Sendable {
        public var name: [UInt8]
        public var value: [UInt8]
        public var malformed: Bool
    }

    /// The parameters of `rawQuery` in order; empty segments are skipped and a parameter
    /// without `=` has an empty value.
    public static func items(_ rawQuery: some StringProtocol) -> [Item] {
        var text = String(rawQuery)
        return text.withUTF8 { bytes in
            var items: [Item] = []
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
                if end > start {
                    var equals = start
                    while equals < end, bytes[equals] != UInt8(ascii: "=") { equals += 1 }
                    var malformed = false
                    let name = decode(bytes, start..<equals, malformed: &malformed)
                    let value = equals < end ? decode(bytes, (equals + 1)..<end, malformed: &malformed) : []
                    items.append(Item(name: name, value: value, malformed: malformed))
                }
                start = end + 1
            }
            return items
        }
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, malformed: inout Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%") {
                if i + 2 < range.upperBound, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                    out.append(high << 4 | low)
                    i += 3
                    continue
                }
                malformed = true
                out.append(byte)
            } else if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
            i += 1
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
