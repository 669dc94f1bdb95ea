import Foundation

/// Dates in the two forms S3 uses: RFC 1123 in headers, ISO 8601 with milliseconds in XML.
public enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    public static func rfc1123(_ date: Date) -> String {
        let c = CivilTime(date)
        // Built as bytes: a listing formats one date per key, and interpolation of padded
        // pieces showed up in its profile (bench/PROFILE.md).
        var out = [UInt8]()
        out.reserveCapacity(29)
        out += weekdays[c.weekday].utf8
        out += ", ".utf8
        appendDigits(c.day, 2, to: &out)
        out.append(UInt8(ascii: " "))
        out += months[c.month - 1].utf8
        out.append(UInt8(ascii: " "))
        appendDigits(c.year, 4, to: &out)
        out.append(UInt8(ascii: " "))
        appendClock(c, to: &out)
        out += " GMT".utf8
        return String(decoding: out, as: UTF8.self)
    }

    /// `2009-10-12T17:50:30.000Z`
    public static func iso8601(_ date: Date) -> String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        appendISO8601(date, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``iso8601(_:)``'s text, as ASCII, to `out`.
    public static func appendISO8601(_ date: Date, to out: inout [UInt8]) {
        let c = CivilTime(date)
        let millis = Int((date.timeIntervalSince1970 - floor(date.timeIntervalSince1970)) * 1000)
        appendDigits(c.year, 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(c.month, 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(c.day, 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendClock(c, to: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(millis, 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// `hh:mm:ss`
    private static func appendClock(_ c: CivilTime, to out: inout [UInt8]) {
        appendDigits(c.hour, 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.minute, 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(c.second, 2, to: &out)
    }

    /// `value` in decimal, zero-padded to at least `width` digits.
    private static func appendDigits(_ value: Int, _ width: Int, to out: inout [UInt8]) {
        let value = Swift.max(0, value)
        var divisor = 1
        var count = 1
        while count < width || value / divisor >= 10 {
            divisor *= 10
            count += 1
        }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
            divisor /= 10
        }
    }

    /// Parses RFC 1123 (`Sun, 06 Nov 1994 08:49:37 GMT`) and RFC 850 forms (GMT only), and
    /// ISO 8601 (`1994-11-06T08:49:37Z`, with optional fraction). Nil when unparseable.
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = parseRFC1123(trimmed) { return date }
        if let date = parseISO8601(trimmed) { return date }
        return nil
    }

    private static func parseRFC1123(_ text: String) -> Date? {
        // "Sun, 06 Nov 1994 08:49:37 GMT" or "Sunday, 06-Nov-94 08:49:37 GMT"
        let parts = text.replacingOccurrences(of: "-", with: " ").split(separator: " ")
        guard parts.count >= 5 else { return nil }
        let offset = parts[0].hasSuffix(",") ? 1 : 0
        guard parts.count >= offset + 4,
            let day = Int(parts[offset]),
            let monthIndex = months.firstIndex(of: String(parts[offset + 1].prefix(3)).capitalized),
            var year = Int(parts[offset + 2])
        else { return nil }
        if year < 100 { year += year < 70 ? 2000 : 1900 }
        // HTTP dates are always GMT; any other zone would be misread.
        guard parts.count == offset + 5, parts[offset + 4] == "GMT" else { return nil }
        let time = parts[offset + 3].split(separator: ":")
        guard time.count == 3, let h = Int(time[0]), let m = Int(time[1]), let s = Int(time[2]) else { return nil }
        return make(year: year, month: monthIndex + 1, day: day, hour: h, minute: m, second: s)
    }

    private static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") else { return nil }
        func num(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19)
        else { return nil }
        return make(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
    }

    private static func make(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Date? {
        CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second).date
    }
}
