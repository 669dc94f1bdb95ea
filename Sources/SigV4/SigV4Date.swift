import Foundation
import GatewayCore

/// Parsing and formatting of the timestamps SigV4 uses, without locale-dependent formatters.
enum SigV4Date {
    /// Formats `date` as ISO 8601 basic, `yyyyMMdd'T'HHmmss'Z'` (UTC).
    static func amzDate(_ date: Date) -> String {
        let c = CivilTime(date)
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2)
            + pad(c.second, 2) + "Z"
    }

    /// Parses ISO 8601 basic `yyyyMMdd'T'HHmmss'Z'`; `nil` when malformed.
    static func parseAmzDate(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z"),
              let year = number(b, 0, 4), let month = number(b, 4, 2), let day = number(b, 6, 2),
              let hour = number(b, 9, 2), let minute = number(b, 11, 2), let second = number(b, 13, 2)
        else { return nil }
        return makeDate(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Parses the `Date` header (RFC 1123 and the other HTTP date forms); `nil` when malformed.
    static func parseHTTPDate(_ s: String) -> Date? { HTTPDate.parse(s) }

    private static func number(_ b: [UInt8], _ start: Int, _ count: Int) -> Int? {
        var v = 0
        for i in start..<(start + count) {
            let d = b[i]
            guard d >= 0x30, d <= 0x39 else { return nil }
            v = v * 10 + Int(d - 0x30)
        }
        return v
    }

    private static func makeDate(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Date? {
        CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second).date
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
