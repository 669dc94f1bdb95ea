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
                    let name = PercentEncoding.decodeBytes(bytes[start..<equals], plusAsSpace: true, malformed: &malformed)
                    let value = equals < end
                        ? PercentEncoding.decodeBytes(bytes[(equals + 1)..<end], plusAsSpace: true, malformed: &malformed) : []
                    items.append(Item(name: name, value: value, malformed: malformed))
                }
                start = end + 1
            }
            return items
        }
    }
}
