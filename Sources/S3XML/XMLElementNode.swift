/// One attribute of a parsed element (namespace declarations are not kept).
public struct XMLAttribute: Sendable, Equatable {
    /// The local name (any `prefix:` removed).
    public var name: String
    /// The value, with references decoded and whitespace normalized to spaces.
    public var value: String

    /// Makes an attribute.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An element of a parsed document: its local name, attributes, child elements and
/// character data. Comments are dropped; CDATA sections are merged into ``text``.
public struct XMLElementNode: Sendable, Equatable {
    /// The local name: `s3:Key` is stored as `Key`.
    public var name: String
    /// The attributes, in document order, without `xmlns` / `xmlns:*` declarations.
    public var attributes: [XMLAttribute]
    /// The child elements, in document order.
    public var children: [XMLElementNode]
    /// All character data directly inside this element (not in children), concatenated
    /// exactly as decoded: not trimmed, line ends not normalized.
    public var text: String

    /// Makes a node.
    public init(
        name: String, attributes: [XMLAttribute] = [], children: [XMLElementNode] = [], text: String = ""
    ) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child element with this local name (a `prefix:` in `name` is ignored).
    public func child(_ name: String) -> XMLElementNode? {
        let local = Self.localName(name)
        return children.first { $0.name == local }
    }

    /// Every child element with this local name, in order (a `prefix:` is ignored).
    public func children(named name: String) -> [XMLElementNode] {
        let local = Self.localName(name)
        return children.filter { $0.name == local }
    }

    /// The value of the first attribute with this local name.
    public func attribute(_ name: String) -> String? {
        let local = Self.localName(name)
        return attributes.first { $0.name == local }?.value
    }

    /// ``text`` without leading and trailing XML whitespace (space, tab, CR, LF).
    public var trimmedText: String {
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { !XMLCharacters.isWhitespace($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !XMLCharacters.isWhitespace($0) })!
        return String(decoding: utf8[first...last], as: UTF8.self)
    }

    static func localName(_ name: String) -> Substring {
        guard let colon = name.lastIndex(of: ":") else { return Substring(name) }
        return name[name.index(after: colon)...]
    }
}
