/// Splitting a raw query string (`a=1&b&c=%20`) into percent-decoded byte pairs, on bytes.
///
/// The request path parses every query (SigV4 verification and S3 routing); done on
/// `Character`s, with `split` and `firstIndex(of:)` on `Substring`, that was a fifth of the
/// server's CPU per presigned GET (bench/PROFILE.md). Every decoded name and value lives in one
/// buffer, so a presigned URL's seven parameters cost two allocations, not fifteen.
public enum QueryString {
    /// One parameter: name and value, percent-decoded, `+` as a space; `malformed` when an
    /// escape in either was not `%` followed by two hex digits (kept literally then).
    public struct Item: Sendable {
        public var name: ArraySlice<UInt8>
        public var value: ArraySlice<UInt8>
        public var malformed: Bool

        /// Whether the decoded name is exactly `text`'s bytes.
        @inlinable
        public func nameIs(_ text: StaticString) -> Bool {
            text.withUTF8Buffer { name.elementsEqual($0) }
        }
    }

    /// The parameters of a query in order, decoded into one shared buffer.
    public struct Parameters: RandomAccessCollection, Sendable {
        struct Span: Sendable {
            var name: Range<Int>
            var value: Range<Int>
            var malformed: Bool
        }

        /// Every decoded name and value, back to back.
        let bytes: [UInt8]
        let spans: [Span]

        /// No parameters.
        public init() {
            bytes = []
            spans = []
        }

        init(bytes: [UInt8], spans: [Span]) {
            self.bytes = bytes
            self.spans = spans
        }

        /// The number of decoded bytes of every name and value together.
        public var byteCount: Int { bytes.count }

        public var startIndex: Int { 0 }
        public var endIndex: Int { spans.count }

        public subscript(position: Int) -> Item {
            let span = spans[position]
            return Item(name: bytes[span.name], value: bytes[span.value], malformed: span.malformed)
        }
    }

    /// The parameters of `rawQuery` in order; empty segments are skipped and a parameter
    /// without `=` has an empty value.
    public static func items(_ rawQuery: some StringProtocol) -> Parameters {
        guard !rawQuery.isEmpty else { return Parameters() }
        var text = String(rawQuery)
        return text.withUTF8 { raw in
            // Decoding never lengthens text, so the buffer never grows past the raw query.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(raw.count)
            var spans: [Parameters.Span] = []
            spans.reserveCapacity(raw.reduce(1) { $0 + ($1 == UInt8(ascii: "&") ? 1 : 0) })
            var start = 0
            while start < raw.count {
                var end = start
                while end < raw.count, raw[end] != UInt8(ascii: "&") { end += 1 }
                if end > start {
                    var equals = start
                    while equals < end, raw[equals] != UInt8(ascii: "=") { equals += 1 }
                    var malformed = false
                    let nameStart = bytes.count
                    PercentEncoding.appendDecoded(raw[start..<equals], plusAsSpace: true, malformed: &malformed, to: &bytes)
                    let valueStart = bytes.count
                    if equals < end {
                        PercentEncoding.appendDecoded(raw[(equals + 1)..<end], plusAsSpace: true, malformed: &malformed, to: &bytes)
                    }
                    spans.append(Parameters.Span(name: nameStart..<valueStart, value: valueStart..<bytes.count, malformed: malformed))
                }
                start = end + 1
            }
            return Parameters(bytes: bytes, spans: spans)
        }
    }
}
