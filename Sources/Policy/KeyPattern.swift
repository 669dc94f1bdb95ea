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
        let parts = key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
        var captures: [String: String] = [:]
        return Self.match(segments[...], parts[...], &captures) ? captures : nil
    }

    private static func match(_ pattern: ArraySlice<Segment>, _ parts: ArraySlice<[UInt8]>, _ captures: inout [String: String]) -> Bool {
        guard let first = pattern.first else { return parts.isEmpty }
        switch first {
        case .anySegments:
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var index = parts.startIndex
            while true {
                var attempt = captures
                if match(rest, parts[index...], &attempt) {
                    captures = attempt
                    return true
                }
                if index == parts.endIndex { return false }
                index += 1
            }
        case .capture(let name):
            guard let part = parts.first else { return false }
            captures[name] = String(decoding: part, as: UTF8.self)
            return match(pattern.dropFirst(), parts.dropFirst(), &captures)
        case .glob(let pieces):
            guard let part = parts.first, globMatch(pieces, part) else { return false }
            return match(pattern.dropFirst(), parts.dropFirst(), &captures)
        }
    }

    /// Matches one segment against literal pieces separated by `*`.
    static func globMatch(_ pieces: [[UInt8]], _ segment: [UInt8]) -> Bool {
        if pieces.count == 1 { return pieces[0] == segment }
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

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, before end: Int) -> Int? {
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
