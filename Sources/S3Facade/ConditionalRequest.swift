import Foundation
import GatewayCore
import HTTPTypes

/// Conditional-read evaluation (RFC 7232 order, as S3 applies it).
struct ReadConditions: Sendable {
    var ifMatch: String?
    var ifNoneMatch: String?
    var ifModifiedSince: Date?
    var ifUnmodifiedSince: Date?

    init(headers: HTTPFields) {
        ifMatch = headers[.ifMatch]
        ifNoneMatch = headers[.ifNoneMatch]
        ifModifiedSince = headers[.ifModifiedSince].flatMap(HTTPDate.parse)
        ifUnmodifiedSince = headers[.ifUnmodifiedSince].flatMap(HTTPDate.parse)
    }

    init(ifMatch: String? = nil, ifNoneMatch: String? = nil, ifModifiedSince: Date? = nil, ifUnmodifiedSince: Date? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
    }

    /// Nil when the read proceeds, else the error to answer (412 or 304).
    func evaluate(etag: String, lastModified: Date) -> S3Error? {
        // HTTP dates have whole seconds.
        let modified = Date(timeIntervalSince1970: floor(lastModified.timeIntervalSince1970))
        if let ifMatch {
            if !Self.matches(ifMatch, etag: etag) { return Self.preconditionFailed }
        } else if let ifUnmodifiedSince, modified > ifUnmodifiedSince {
            return Self.preconditionFailed
        }
        if let ifNoneMatch {
            if Self.matches(ifNoneMatch, etag: etag) { return S3Error(.notModified, "Not Modified") }
        } else if let ifModifiedSince, modified <= ifModifiedSince {
            return S3Error(.notModified, "Not Modified")
        }
        return nil
    }

    static let preconditionFailed = S3Error(.preconditionFailed, "At least one of the pre-conditions you specified did not hold")

    /// Whether an `If-Match`/`If-None-Match` list names the ETag (or is `*`).
    static func matches(_ header: String, etag: String) -> Bool {
        for candidate in header.split(separator: ",") {
            var value = candidate.trimmingCharacters(in: .whitespaces)
            if value == "*" { return true }
            if value.hasPrefix("W/") { value.removeFirst(2) }
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            if value == etag { return true }
        }
        return false
    }
}

/// A `Range: bytes=…` request, single range only (as S3).
enum ByteRangeRequest: Equatable {
    case from(Int64, through: Int64?)
    case suffix(Int64)

    /// Parses the header; nil for syntax S3 ignores (then the whole object is served).
    static func parse(_ header: String) -> ByteRangeRequest? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return nil }
        let spec = trimmed.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let n = Int64(last), n >= 0 else { return nil }
            return .suffix(n)
        }
        guard let start = Int64(first), start >= 0 else { return nil }
        if last.isEmpty { return .from(start, through: nil) }
        guard let end = Int64(last), end >= start else { return nil }
        return .from(start, through: end)
    }

    /// The half-open byte range within an object of `size` bytes.
    /// - Throws: ``S3Error`` `InvalidRange` when unsatisfiable.
    func resolve(size: Int64) throws(S3Error) -> Range<Int64> {
        switch self {
        case .from(let start, let end):
            guard start < size else { throw S3Error(.invalidRange, "The requested range is not satisfiable", details: [("ActualObjectSize", String(size))]) }
            return start..<min(end.map { $0 + 1 } ?? size, size)
        case .suffix(let count):
            guard count > 0, size > 0 else { throw S3Error(.invalidRange, "The requested range is not satisfiable", details: [("ActualObjectSize", String(size))]) }
            return max(0, size - count)..<size
        }
    }
}
