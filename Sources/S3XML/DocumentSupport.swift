/// Shared helpers for the typed request documents: schema-shape checks that throw
/// ``XMLParseError`` with code ``XMLParseError/Code/malformed``.
extension XMLElementNode {
    /// Throws unless this element's local name is `name` (the expected root).
    func requireName(_ name: String) throws(XMLParseError) {
        guard self.name == name else {
            throw XMLParseError(.malformed, "expected root element <\(name)>, found <\(self.name)>")
        }
    }

    /// The child named `name`, or `nil` if absent; throws if it occurs more than once.
    func optionalSingleChild(_ name: String) throws(XMLParseError) -> XMLElementNode? {
        var found: XMLElementNode?
        for child in children where child.name == name {
            guard found == nil else {
                throw XMLParseError(.malformed, "<\(name)> occurs more than once in <\(self.name)>")
            }
            found = child
        }
        return found
    }

    /// The child named `name`; throws if it is absent or occurs more than once.
    func requiredSingleChild(_ name: String) throws(XMLParseError) -> XMLElementNode {
        guard let child = try optionalSingleChild(name) else {
            throw XMLParseError(.malformed, "<\(self.name)> without <\(name)>")
        }
        return child
    }

    /// Throws if this element has child elements (a value element must be text only).
    func requireNoChildren() throws(XMLParseError) {
        guard children.isEmpty else {
            throw XMLParseError(.malformed, "<\(name)> must contain text only")
        }
    }

    /// The trimmed text of an optional single text-only child, or `nil` when absent.
    func optionalValue(_ name: String) throws(XMLParseError) -> String? {
        guard let child = try optionalSingleChild(name) else { return nil }
        try child.requireNoChildren()
        return child.trimmedText
    }

    /// Parses the trimmed text as a non-negative decimal integer of at most 9 digits
    /// (no sign, no spaces inside).
    func nonNegativeIntegerValue() throws(XMLParseError) -> Int {
        try requireNoChildren()
        let digits = trimmedText.utf8
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw XMLParseError(.malformed, "<\(name)> is not a non-negative integer")
        }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// Parses the trimmed text as `true` / `false` (case-insensitive).
    func booleanValue() throws(XMLParseError) -> Bool {
        try requireNoChildren()
        switch trimmedText.lowercased() {
        case "true": return true
        case "false": return false
        default: throw XMLParseError(.malformed, "<\(name)> is not true or false")
        }
    }
}
