/// Comparisons whose time does not depend on where the inputs differ (tokens, key ids).
public enum ConstantTime {
    /// Whether two strings have the same UTF-8 bytes, in time that depends only on their lengths.
    public static func equals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
