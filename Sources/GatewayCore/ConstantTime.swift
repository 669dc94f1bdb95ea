/// Comparisons whose time does not depend on where the inputs differ (tokens, key ids).
public enum ConstantTime {
    /// Whether two strings have the same UTF-8 bytes, in time that depends only on their lengths.
    public static func equals(_ a: String, _ b: String) -> Bool {
        var difference = UInt8(a.utf8.count == b.utf8.count ? 0 : 1)
        var x = a.utf8.makeIterator(), y = b.utf8.makeIterator()
        while true {
            let p = x.next(), q = y.next()
            if p == nil && q == nil { break }
            difference |= (p ?? 0) ^ (q ?? 0)
        }
        return difference == 0
    }
}
