/// S3 bucket naming rules.
public enum BucketName {
    /// Whether `name` is a valid bucket name: 3–63 characters of lowercase letters, digits, `.`
    /// and `-`, starting and ending with a letter or digit, no `..`, not an IP address.
    /// Names starting with `_` are never valid (the control API lives under `/_mediagate/`).
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlnum(_ b: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        for (index, byte) in bytes.enumerated() {
            guard isAlnum(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") else { return false }
            if byte == UInt8(ascii: "."), index > 0, bytes[index - 1] == UInt8(ascii: ".") { return false }
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) { return false }
        return true
    }
}
