/// A strict, small, non-validating XML parser for untrusted request bodies.
///
/// Accepted: an optional UTF-8 BOM, an optional XML declaration (version 1.x, encoding
/// UTF-8 if given), comments and whitespace around and inside the root element, one root
/// element, attributes, CDATA sections, the five predefined entities and numeric
/// character references.
///
/// Refused with ``XMLParseError/Code/forbiddenConstruct``: DOCTYPE and every other markup
/// declaration (so no billion laughs, no external entities), processing instructions
/// other than the leading declaration, references to any other named entity.
///
/// Refused with ``XMLParseError/Code/malformed``: invalid UTF-8, NUL bytes, mismatched or
/// unclosed tags, duplicate attributes, text outside the root element, and the other
/// well-formedness errors it checks. Over a ``XMLLimits`` limit: ``XMLParseError/Code/tooLarge``.
///
/// Deliberate leniencies, for byte-exact S3 keys: line ends are not normalized, raw C0
/// control characters (other than NUL) are accepted in text, and numeric references to
/// them (`&#x1;`, as S3 writes) are decoded. Namespace declarations are ignored and
/// prefixes stripped; prefixes are not resolved.
///
/// The parser is iterative (no recursion) and linear in the input size.
public enum XMLDocumentParser {
    /// Parses `bytes` into its root element.
    public static func parse(
        _ bytes: some Collection<UInt8>, limits: XMLLimits = .init()
    ) throws(XMLParseError) -> XMLElementNode {
        guard bytes.count <= limits.maxBytes else {
            throw XMLParseError(.tooLarge, "document larger than \(limits.maxBytes) bytes")
        }
        if let result = bytes.withContiguousStorageIfAvailable({ parseContiguous($0, limits: limits) }) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBufferPointer { parseContiguous($0, limits: limits) }.get()
    }

    private static func parseContiguous(
        _ input: UnsafeBufferPointer<UInt8>, limits: XMLLimits
    ) -> Result<XMLElementNode, XMLParseError> {
        do throws(XMLParseError) {
            var builder = XMLTreeBuilder(scanner: XMLScanner(input: input, limits: limits))
            return .success(try builder.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

/// Builds the element tree with an explicit stack.
struct XMLTreeBuilder {
    typealias C = XMLCharacters

    /// An element whose end tag has not been seen yet.
    struct Frame {
        var qualifiedName: Range<Int>
        var node: XMLElementNode
        /// Where this element's character data starts in ``text``.
        var textStart: Int
    }

    var scanner: XMLScanner
    /// Character data of every open element; each frame owns the tail from `textStart`
    /// (a child's data is removed when it closes, so the parent's stays contiguous).
    var text: [UInt8] = []
    var stack: [Frame] = []
    var root: XMLElementNode?
    var elementCount = 0

    init(scanner: XMLScanner) {
        self.scanner = scanner
    }

    var limits: XMLLimits { scanner.limits }

    mutating func parseDocument() throws(XMLParseError) -> XMLElementNode {
        if let offset = C.firstInvalidUTF8Offset(scanner.input) {
            throw XMLParseError(.malformed, "invalid UTF-8 or NUL at byte \(offset)")
        }
        if scanner.hasPrefix("\u{FEFF}") { scanner.position += 3 }
        if scanner.hasPrefix("<?xml"), let next = scanner.peek(5), C.isWhitespace(next) {
            try parseDeclaration()
        }
        try skipMisc()
        guard scanner.peek() == C.lessThan else {
            throw scanner.error(.malformed, scanner.isAtEnd ? "no root element" : "text before the root element")
        }
        try startElement()
        while !stack.isEmpty {
            guard let byte = scanner.peek() else {
                throw scanner.error(.malformed, "unexpected end of document inside <\(stack.last!.node.name)>")
            }
            if byte == C.lessThan {
                switch scanner.peek(1) {
                case C.slash:
                    try endElement()
                case C.bang:
                    if scanner.hasPrefix("<!--") {
                        try scanner.skipComment()
                    } else if scanner.hasPrefix("<![CDATA[") {
                        try scanner.scanCDATA(into: &text)
                    } else {
                        throw scanner.declarationError()
                    }
                case C.question:
                    throw scanner.processingInstructionError()
                default:
                    try startElement()
                }
            } else if byte == C.ampersand {
                try scanner.scanReference(into: &text)
            } else {
                try scanner.scanCharacterData(into: &text)
            }
        }
        try skipMisc()
        guard scanner.isAtEnd else {
            throw scanner.error(.malformed, "content after the root element")
        }
        return root!
    }

    /// Skips whitespace and comments outside the root element.
    mutating func skipMisc() throws(XMLParseError) {
        while true {
            scanner.skipWhitespace()
            guard scanner.peek() == C.lessThan else { return }
            if scanner.hasPrefix("<!--") {
                try scanner.skipComment()
            } else if scanner.hasPrefix("<?") {
                throw scanner.processingInstructionError()
            } else if scanner.hasPrefix("<!") {
                throw scanner.declarationError()
            } else {
                return
            }
        }
    }

    /// At `<?xml`: checks the XML declaration's pseudo-attributes.
    mutating func parseDeclaration() throws(XMLParseError) {
        scanner.position += 5
        var sawVersion = false
        while true {
            let hadSpace = scanner.skipWhitespace()
            if scanner.hasPrefix("?>") {
                scanner.position += 2
                break
            }
            guard hadSpace else { throw scanner.error(.malformed, "malformed XML declaration") }
            let name = try scanner.scanName()
            scanner.skipWhitespace()
            try scanner.expect(C.equals, "'='")
            scanner.skipWhitespace()
            var bytes: [UInt8] = []
            try scanner.scanAttributeValue(into: &bytes)
            let value = String(decoding: bytes, as: UTF8.self).lowercased()
            if scanner.bytesEqual(name, "version") {
                guard value.hasPrefix("1."), !sawVersion else {
                    throw scanner.error(.malformed, "unsupported XML version")
                }
                sawVersion = true
            } else if scanner.bytesEqual(name, "encoding") {
                guard value == "utf-8" || value == "utf8" else {
                    throw scanner.error(.malformed, "unsupported encoding (only UTF-8 is accepted)")
                }
            } else if scanner.bytesEqual(name, "standalone") {
                guard value == "yes" || value == "no" else {
                    throw scanner.error(.malformed, "invalid standalone value")
                }
            } else {
                throw scanner.error(.malformed, "unknown XML declaration attribute")
            }
        }
        guard sawVersion else { throw scanner.error(.malformed, "XML declaration without version") }
    }

    /// At `<name`: parses a start tag (or an empty-element tag).
    mutating func startElement() throws(XMLParseError) {
        scanner.position += 1
        let qualifiedName = try scanner.scanName()
        elementCount += 1
        guard elementCount <= limits.maxElements else {
            throw scanner.error(.tooLarge, "more than \(limits.maxElements) elements")
        }
        guard stack.count < limits.maxDepth else {
            throw scanner.error(.tooLarge, "elements nested deeper than \(limits.maxDepth)")
        }
        var node = XMLElementNode(name: scanner.localName(qualifiedName))
        var attributeNames: [Range<Int>] = []
        while true {
            let hadSpace = scanner.skipWhitespace()
            guard let byte = scanner.peek() else {
                throw scanner.error(.malformed, "unexpected end of document in a start tag")
            }
            if byte == C.greaterThan {
                scanner.position += 1
                stack.append(Frame(qualifiedName: qualifiedName, node: node, textStart: text.count))
                return
            }
            if byte == C.slash {
                scanner.position += 1
                try scanner.expect(C.greaterThan, "'>' after '/'")
                attach(node)
                return
            }
            guard hadSpace else { throw scanner.error(.malformed, "expected whitespace before an attribute") }
            let name = try scanner.scanName()
            guard attributeNames.count < limits.maxAttributesPerElement else {
                throw scanner.error(.tooLarge, "more than \(limits.maxAttributesPerElement) attributes")
            }
            guard !attributeNames.contains(where: { scanner.bytesEqual($0, name) }) else {
                throw scanner.error(.malformed, "duplicate attribute")
            }
            attributeNames.append(name)
            scanner.skipWhitespace()
            try scanner.expect(C.equals, "'=' after an attribute name")
            scanner.skipWhitespace()
            var value: [UInt8] = []
            try scanner.scanAttributeValue(into: &value)
            let isNamespaceDeclaration = scanner.bytesEqual(name, "xmlns")
                || (name.count > 6 && scanner.bytesEqual(name.lowerBound..<(name.lowerBound + 6), "xmlns:"))
            if !isNamespaceDeclaration {
                node.attributes.append(
                    XMLAttribute(name: scanner.localName(name), value: String(decoding: value, as: UTF8.self)))
            }
        }
    }

    /// At `</`: closes the innermost open element.
    mutating func endElement() throws(XMLParseError) {
        scanner.position += 2
        let name = try scanner.scanName()
        scanner.skipWhitespace()
        try scanner.expect(C.greaterThan, "'>' to end a closing tag")
        var frame = stack.removeLast()
        guard scanner.bytesEqual(name, frame.qualifiedName) else {
            throw scanner.error(.malformed, "closing tag does not match <\(frame.node.name)>")
        }
        frame.node.text = String(decoding: text[frame.textStart...], as: UTF8.self)
        text.removeLast(text.count - frame.textStart)
        attach(frame.node)
    }

    /// Adds a finished element to its parent, or makes it the root.
    mutating func attach(_ node: XMLElementNode) {
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].node.children.append(node)
        }
    }
}
