extension String {
    /// ASCII case-insensitive equality (header names are ASCII).
    public func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            let lx = (x >= 0x41 && x <= 0x5A) ? x | 0x20 : x
            let ly = (y >= 0x41 && y <= 0x5A) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }

    /// Whether the text starts with `prefix` (lowercase ASCII), in any ASCII case.
    public func hasASCIIPrefixIgnoringCase(_ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { wanted in
            var text = utf8.makeIterator()
            for byte in wanted {
                guard let got = text.next(), (got >= 0x41 && got <= 0x5A ? got | 0x20 : got) == byte else { return false }
            }
            return true
        }
    }
}
