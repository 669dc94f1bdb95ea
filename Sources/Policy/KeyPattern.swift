/// A glob over object keys, segment by segment (`/` separates segments).
///
/// - `**` matches any number of whole segments, none included;
/// - `*` inside a segment matches any characters except `/`;
/// - `{name}` as a whole segment matches one segment and captures it under `name`.
///
/// Keys compare as bytes (UTF-8), never as canonically-equivalent Unicode, like S3 keys.
public struct KeyPattern: Sendable, Equatable, CustomStringConvertible {
    enum Segment: Sendable, Equatable {
        case anySegments
        case capture(String)
        /// A literal segment, split at its `*` wildcards.
        case glob([[UInt8]])
    }

    let segments: [Segment]
    /// The pattern as written.
    public let description: String

    /// Parses a pattern.
    /// - Throws: ``PolicyConfigurationError`` for an empty pattern, an empty or malformed
    ///   capture, or a capture name used twice.
    public init(_ text: String) throws(PolicyConfigurationError) {
        guard !text.isEmpty else { throw PolicyConfigurationError("a key pattern cannot be empty") }
        var segments: [Segment] = []
        var names: Set<String> = []
        for part in text.split(separator: "/", omittingEmptySubsequences: false) {
            if part == "**" {
                if segments.last != .anySegments { segments.append(.anySegments) }
            } else if part.hasPrefix("{") && part.hasSuffix("}") && part.count >= 2 {
                let name = String(part.dropFirst().dropLast())
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw PolicyConfigurationError("invalid capture '\(part)' in pattern '\(text)'")
                }
                guard names.insert(name).inserted else {
                    throw PolicyConfigurationError("capture '\(name)' appears twice in pattern '\(text)'")
                }
                segments.append(.capture(name))
            } else {
                guard !part.contains("{") && !part.contains("}") else {
                    throw PolicyConfigurationError("a capture must be a whole segment in pattern '\(text)'")
                }
                guard !part.contains("**") else {
                    throw PolicyConfigurationError("'**' must be a whole segment in pattern '\(text)'")
                }
                segments.append(.glob(part.split(separator: "*", omittingEmptySubsequences: false).map { Array($0.utf8) }))
            }
        }
        self.segments = segments
        self.description = text
    }

    /// Matches a key. Returns the captures on a match, nil otherwise.
    ///
    /// A capture may match an empty segment (`selfies//x`): the rule still applies, with an
    /// empty subject that no consent can name.
    public func match(_ key: String) -> [String: String]? {
        var key = key
        return key.withUTF8 { bytes in
            var captures: [String: String] = [:]
            return Self.match(segments[...], bytes, from: 0, &captures) ? captures : nil
        }
    }

    /// Matches the key's segments from the one starting at byte `start` on; `start` past the
    /// end means no segment is left (a key ending in `/` has an empty last segment).
    private static func match(
        _ pattern: ArraySlice<Segment>, _ key: UnsafeBufferPointer<UInt8>, from start: Int, _ captures: inout [String: String]
    ) -> Bool {
        guard let first = pattern.first else { return start > key.count }
        switch first {
        case .anySegments:
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var index = start
            while true {
                var attempt = captures
                if match(rest, key, from: index, &attempt) {
                    captures = attempt
                    return true
                }
                if index > key.count { return false }
                index = segmentEnd(key, from: index) + 1
            }
        case .capture(let name):
            guard start <= key.count else { return false }
            let end = segmentEnd(key, from: start)
            captures[name] = String(decoding: UnsafeBufferPointer(rebasing: key[start..<end]), as: UTF8.self)
            return match(pattern.dropFirst(), key, from: end + 1, &captures)
        case .glob(let pieces):
            guard start <= key.count else { return false }
            let end = segmentEnd(key, from: start)
            guard globMatch(pieces, UnsafeBufferPointer(rebasing: key[start..<end])) else { return false }
            return match(pattern.dropFirst(), key, from: end + 1, &captures)
        }
    }

    /// The index of the `/` ending the segment that starts at `start`, or the key's length.
    private static func segmentEnd(_ key: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var end = start
        while end < key.count, key[end] != UInt8(ascii: "/") { end += 1 }
        return end
    }

    /// Matches one segment against literal pieces separated by `*`.
    static func globMatch(_ pieces: [[UInt8]], _ segment: UnsafeBufferPointer<UInt8>) -> Bool {
        if pieces.count == 1 { return pieces[0].elementsEqual(segment) }
        guard let head = pieces.first, let tail = pieces.last, segment.count >= head.count + tail.count,
            segment.starts(with: head), segment.reversed().starts(with: tail.reversed())
        else { return false }
        var position = head.count
        let end = segment.count - tail.count
        for piece in pieces.dropFirst().dropLast() {
            guard let found = find(piece, in: segment, from: position, before: end) else { return false }
            position = found + piece.count
        }
        return position <= end
    }

    private static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from start: Int, before end: Int) -> Int? {
        if needle.isEmpty { return start }
        var index = start
        while index + needle.count <= end {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

/// An invalid rule or pattern in the configuration.
public struct PolicyConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    /// Creates an error with a message for the operator.
    public init(_ description: String) { self.description = description }
}
