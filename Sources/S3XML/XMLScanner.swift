/// The lexical layer of the parser: a cursor over a UTF-8-validated document with the
/// small scanners the tree builder needs. Every scanner either advances past what it
/// recognised or throws; none recurses, so hostile input cannot exhaust the stack.
struct XMLScanner {
    typealias C = XMLCharacters

    let input: UnsafeBufferPointer<UInt8>
    let limits: XMLLimits
    var position = 0

    init(input: UnsafeBufferPointer<UInt8>, limits: XMLLimits) {
        self.input = input
        self.limits = limits
    }

    var isAtEnd: Bool { position >= input.count }

    @inline(__always)
    func peek(_ offset: Int = 0) -> UInt8? {
        let index = position + offset
        return index < input.count ? input[index] : nil
    }

    /// Whether the input at the cursor starts with `literal` (ASCII, case-sensitive).
    func hasPrefix(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { bytes in
            guard position + bytes.count <= input.count else { return false }
            for offset in 0..<bytes.count where input[position + offset] != bytes[offset] {
                return false
            }
            return true
        }
    }

    /// An error that mentions the cursor position.
    func error(_ code: XMLParseError.Code, _ message: String) -> XMLParseError {
        XMLParseError(code, "\(message) at byte \(position)")
    }

    /// Skips XML whitespace; returns whether any was skipped.
    @discardableResult
    mutating func skipWhitespace() -> Bool {
        let start = position
        while position < input.count && C.isWhitespace(input[position]) { position += 1 }
        return position > start
    }

    /// Consumes `byte` or throws `malformed` saying what was expected.
    mutating func expect(_ byte: UInt8, _ what: String) throws(XMLParseError) {
        guard peek() == byte else {
            throw error(.malformed, isAtEnd ? "unexpected end of document, expected \(what)" : "expected \(what)")
        }
        position += 1
    }

    /// Scans a (possibly prefixed) name and returns its byte range. At most one colon,
    /// neither first nor last; length bounded by ``XMLLimits/maxNameLength``.
    mutating func scanName() throws(XMLParseError) -> Range<Int> {
        let start = position
        guard let first = peek(), C.isNameStart(first) else {
            throw error(.malformed, isAtEnd ? "unexpected end of document, expected a name" : "expected a name")
        }
        var colons = 0
        while position < input.count && C.isNameByte(input[position]) {
            if input[position] == C.colon { colons += 1 }
            position += 1
            if position - start > limits.maxNameLength {
                throw error(.tooLarge, "name longer than \(limits.maxNameLength) bytes")
            }
        }
        if colons > 0 {
            guard colons == 1, input[start] != C.colon, input[position - 1] != C.colon else {
                throw error(.malformed, "invalid qualified name")
            }
        }
        return start..<position
    }

    /// The name in `range` with any `prefix:` removed.
    func localName(_ range: Range<Int>) -> String {
        var start = range.lowerBound
        for index in range where input[index] == C.colon { start = index + 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: input[start..<range.upperBound]), as: UTF8.self)
    }

    /// Whether the bytes of two ranges are equal.
    func bytesEqual(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        for offset in 0..<a.count where input[a.lowerBound + offset] != input[b.lowerBound + offset] {
            return false
        }
        return true
    }

    /// Whether the bytes of `range` equal `literal`.
    func bytesEqual(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { bytes in
            guard bytes.count == range.count else { return false }
            for offset in 0..<bytes.count where input[range.lowerBound + offset] != bytes[offset] {
                return false
            }
            return true
        }
    }

    /// At `&`: decodes one of the five predefined entities or a numeric character
    /// reference and appends its UTF-8. Any other entity name is forbidden.
    ///
    /// Numeric references to any Unicode scalar except NUL and surrogates are accepted,
    /// including C0 controls such as `&#x1;` (what S3 itself writes for such keys).
    mutating func scanReference(into output: inout [UInt8]) throws(XMLParseError) {
        position += 1
        if peek() == C.hash {
            position += 1
            var radix: UInt32 = 10
            if peek() == UInt8(ascii: "x") {
                radix = 16
                position += 1
            }
            var value: UInt32 = 0
            var digits = 0
            while let byte = peek(), byte != C.semicolon {
                guard let digit = Self.digitValue(byte, radix: radix), digits < 8 else {
                    throw error(.malformed, "invalid character reference")
                }
                value = value * radix + digit
                digits += 1
                position += 1
            }
            guard digits > 0, peek() == C.semicolon else {
                throw error(.malformed, "invalid character reference")
            }
            position += 1
            guard value != 0, let scalar = Unicode.Scalar(value) else {
                throw error(.malformed, "character reference to a code point XML does not allow")
            }
            UTF8.encode(scalar) { output.append($0) }
            return
        }
        let start = position
        while let byte = peek(), byte != C.semicolon, position - start < 32 {
            guard C.isNameByte(byte) else { throw error(.malformed, "invalid entity reference") }
            position += 1
        }
        guard peek() == C.semicolon, position > start else {
            throw error(.malformed, "unterminated entity reference")
        }
        let name = start..<position
        position += 1
        let replacement: UInt8
        if bytesEqual(name, "lt") {
            replacement = C.lessThan
        } else if bytesEqual(name, "gt") {
            replacement = C.greaterThan
        } else if bytesEqual(name, "amp") {
            replacement = C.ampersand
        } else if bytesEqual(name, "quot") {
            replacement = C.quote
        } else if bytesEqual(name, "apos") {
            replacement = C.apostrophe
        } else {
            throw error(.forbiddenConstruct, "reference to an undeclared entity (only the five predefined ones are allowed)")
        }
        output.append(replacement)
    }

    private static func digitValue(_ byte: UInt8, radix: UInt32) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x61...0x66 where radix == 16: return UInt32(byte - 0x61 + 10)
        case 0x41...0x46 where radix == 16: return UInt32(byte - 0x41 + 10)
        default: return nil
        }
    }

    /// At a quote: scans an attribute value, decoding references and normalizing tab,
    /// CR and LF to spaces (XML attribute-value normalization). `<` is malformed.
    mutating func scanAttributeValue(into output: inout [UInt8]) throws(XMLParseError) {
        guard let quote = peek(), quote == C.quote || quote == C.apostrophe else {
            throw error(.malformed, "expected a quoted attribute value")
        }
        position += 1
        while let byte = peek() {
            switch byte {
            case quote:
                position += 1
                return
            case C.lessThan:
                throw error(.malformed, "'<' in an attribute value")
            case C.ampersand:
                try scanReference(into: &output)
            case 0x09, 0x0A, 0x0D:
                output.append(C.space)
                position += 1
            default:
                output.append(byte)
                position += 1
            }
        }
        throw error(.malformed, "unterminated attribute value")
    }

    /// At `<!--`: skips a comment. `--` inside a comment is malformed, as in XML 1.0.
    mutating func skipComment() throws(XMLParseError) {
        position += 4
        while position < input.count {
            if input[position] == UInt8(ascii: "-") && hasPrefix("--") {
                guard hasPrefix("-->") else { throw error(.malformed, "'--' inside a comment") }
                position += 3
                return
            }
            position += 1
        }
        throw error(.malformed, "unterminated comment")
    }

    /// At `<![CDATA[`: appends the section's content verbatim.
    mutating func scanCDATA(into output: inout [UInt8]) throws(XMLParseError) {
        position += 9
        let start = position
        while position < input.count {
            if input[position] == C.closeBracket && hasPrefix("]]>") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<position]))
                position += 3
                return
            }
            position += 1
        }
        throw error(.malformed, "unterminated CDATA section")
    }

    /// Appends character data up to the next `<` or `&`. `]]>` in text is malformed.
    /// Line ends are not normalized, so key bytes survive exactly.
    mutating func scanCharacterData(into output: inout [UInt8]) throws(XMLParseError) {
        let start = position
        while position < input.count {
            let byte = input[position]
            if byte == C.lessThan || byte == C.ampersand { break }
            if byte == C.closeBracket && hasPrefix("]]>") {
                throw error(.malformed, "']]>' in character data")
            }
            position += 1
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<position]))
    }

    /// At `<?` (other than a leading XML declaration): a complete processing instruction
    /// is forbidden; an unterminated one (a truncated document) is malformed.
    func processingInstructionError() -> XMLParseError {
        var index = position + 2
        while index + 1 < input.count {
            if input[index] == C.question && input[index + 1] == C.greaterThan {
                return error(.forbiddenConstruct, "processing instructions are not allowed")
            }
            index += 1
        }
        return error(.malformed, "unterminated processing instruction")
    }

    /// At `<!` that is neither a comment nor CDATA: markup declarations (DOCTYPE,
    /// ENTITY, ELEMENT, ATTLIST, NOTATION) are forbidden, anything else is malformed.
    func declarationError() -> XMLParseError {
        for keyword: StaticString in ["<!DOCTYPE", "<!ENTITY", "<!ELEMENT", "<!ATTLIST", "<!NOTATION"]
        where hasPrefix(keyword) {
            return error(.forbiddenConstruct, "\(keyword) declarations are not allowed")
        }
        return error(.malformed, "unexpected '<!'")
    }
}
