/// Builds an XML response document directly as UTF-8 bytes.
///
/// Element and attribute names are written as given and must be valid XML names (they
/// are constants in S3 responses); all text and attribute values go through
/// ``XMLEscaping``.
///
/// ```swift
/// var xml = XMLWriter()
/// xml.open("ListBucketResult", attributes: [("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")])
/// xml.element("Name", bucket)
/// xml.element("Contents") { xml in
///     xml.element("Key", key)
///     xml.element("Size", size)
/// }
/// xml.close("ListBucketResult")
/// let body = xml.bytes
/// ```
public struct XMLWriter: Sendable {
    /// The document so far, as UTF-8.
    public private(set) var bytes: [UInt8] = []
    private var openElements: [String] = []

    /// Starts a document with `<?xml version="1.0" encoding="UTF-8"?>`.
    public init() {
        self.init(declaration: true)
    }

    /// Starts a document, with or without the XML declaration.
    public init(declaration: Bool, reservingCapacity capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
        if declaration {
            append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        }
    }

    /// The document so far, as a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// The names of the elements opened and not yet closed, outermost first.
    public var openElementNames: [String] { openElements }

    /// Writes a start tag `<name a="v">`; attribute values are escaped.
    public mutating func open(_ name: String, attributes: [(String, String)] = []) {
        writeStartTag(name, attributes: attributes, selfClosing: false)
        openElements.append(name)
    }

    /// Writes the end tag of the innermost open element, which must be `name`
    /// (checked in debug builds).
    public mutating func close(_ name: String) {
        let innermost = openElements.popLast()
        assert(innermost == name, "XMLWriter.close(\(name)) but the innermost open element is \(innermost ?? "none")")
        writeEndTag(name)
    }

    /// Writes the end tag of the innermost open element (does nothing if none is open).
    public mutating func close() {
        guard let name = openElements.popLast() else { return }
        writeEndTag(name)
    }

    /// Writes `<name>text</name>` with `text` escaped (`<name></name>` when empty, as S3
    /// writes e.g. an empty `Prefix`).
    public mutating func element(_ name: String, _ text: String) {
        writeStartTag(name, attributes: [], selfClosing: false)
        XMLEscaping.escape(text, into: &bytes)
        writeEndTag(name)
    }

    /// Writes `<name>`, the bytes `write` appends, then `</name>`. The bytes are not escaped:
    /// only for text that needs no escaping by construction (digits, timestamps), written
    /// without making a `String` first.
    public mutating func element(_ name: String, unescaped write: (inout [UInt8]) -> Void) {
        writeStartTag(name, attributes: [], selfClosing: false)
        write(&bytes)
        writeEndTag(name)
    }

    /// Writes `<name>123</name>`.
    public mutating func element(_ name: String, _ value: some BinaryInteger) {
        element(name, String(value))
    }

    /// Writes `<name>true</name>` or `<name>false</name>`.
    public mutating func element(_ name: String, _ value: Bool) {
        element(name, value ? "true" : "false")
    }

    /// Writes the element only when `text` is not `nil`.
    public mutating func optionalElement(_ name: String, _ text: String?) {
        if let text { element(name, text) }
    }

    /// Writes `<name/>` (with escaped attributes).
    public mutating func emptyElement(_ name: String, attributes: [(String, String)] = []) {
        writeStartTag(name, attributes: attributes, selfClosing: true)
    }

    /// Writes `<name>`, then whatever `body` writes, then `</name>`.
    public mutating func element<E: Error>(
        _ name: String, attributes: [(String, String)] = [], _ body: (inout XMLWriter) throws(E) -> Void
    ) throws(E) {
        open(name, attributes: attributes)
        try body(&self)
        close(name)
    }

    private mutating func writeStartTag(_ name: String, attributes: [(String, String)], selfClosing: Bool) {
        assert(Self.isValidName(name), "invalid XML name \(name)")
        bytes.append(0x3C)  // <
        append(name)
        for (attribute, value) in attributes {
            assert(Self.isValidName(attribute), "invalid XML attribute name \(attribute)")
            bytes.append(0x20)
            append(attribute)
            bytes.append(contentsOf: [0x3D, 0x22])  // ="
            XMLEscaping.escape(value, into: &bytes)
            bytes.append(0x22)
        }
        if selfClosing { bytes.append(0x2F) }
        bytes.append(0x3E)  // >
    }

    private mutating func writeEndTag(_ name: String) {
        bytes.append(contentsOf: [0x3C, 0x2F])  // </
        append(name)
        bytes.append(0x3E)
    }

    private mutating func append(_ literal: String) {
        // Through the contiguous UTF-8 (names are small native strings): one copy, instead of
        // the generic element-by-element append of a `String.UTF8View`.
        var literal = literal
        literal.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Whether `name` is a name this writer may emit (debug check only).
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, XMLCharacters.isNameStart(first) else { return false }
        return name.utf8.allSatisfy(XMLCharacters.isNameByte)
    }
}
