import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error of the control API: a status and an S3-style code, sent as
/// `{"error": CODE, "message": TEXT}`.
struct ControlError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Seconds for `Retry-After` (rate limits).
    var retryAfter: Int?

    var description: String { "\(status.code) \(code): \(message)" }

    static let unauthorized = ControlError(status: .unauthorized, code: "Unauthorized", message: "Send Authorization: Bearer <admin token>, or sign the request with a tenant's key (SigV4).")
    static let forbidden = ControlError(status: .forbidden, code: "AccessDenied", message: "Access Denied")
    static let notFound = ControlError(status: .notFound, code: "NotFound", message: "No such control endpoint.")

    static func invalid(_ message: String) -> ControlError {
        ControlError(status: .badRequest, code: "InvalidArgument", message: message)
    }
}

/// JSON in and out of the control API.
enum ControlJSON {
    /// A JSON answer.
    static func response(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return response(status, data: (try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    /// An answer of JSON bytes, never cached.
    static func response(_ status: HTTPResponse.Status, data: Data) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The answer for an error.
    static func response(for error: ControlError) -> Response {
        var response = Self.response(error.status, ["error": error.code, "message": error.message])
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    /// Decodes a request body; an empty body decodes as `{}`.
    /// - Throws: ``ControlError`` 400 for malformed JSON or wrong field types.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let data = bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) ? Data("{}".utf8) : Data(bytes)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw ControlError.invalid("The request body is not the JSON this endpoint takes: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type for '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "malformed JSON"
        }
    }

    /// RFC 3339 times (with or without fractional seconds).
    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func formatTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

// MARK: Bodies

struct CreateTenantBody: Decodable {
    var name: String
    var prefix: String
    var buckets: [String]?
}

struct TenantCreated: Encodable {
    var name: String
    var prefix: String
    var buckets: [String]
    var accessKeyId: String
    var secretAccessKey: String
}

struct ConsentBody: Decodable {
    var until: String?
}

struct UploadURLBody: Decodable {
    var bucket: String
    var key: String
    var contentType: String?
    var contentLength: Int64?
    var expiresInSeconds: Int?
}

struct UploadURLCreated: Encodable {
    var uploadUrl: String
    var key: String
    var expiresInSeconds: Int
    /// Headers the uploader must send as they are (they are signed).
    var headers: [String: String]
}

struct DownloadURLBody: Decodable {
    var bucket: String
    var key: String
    var expiresInSeconds: Int?
}

struct DownloadURLCreated: Encodable {
    var url: String
    var expiresInSeconds: Int
}

struct ShareLinkBody: Decodable {
    var bucket: String
    var key: String
    var expiresInSeconds: Int?
}

struct ShareLinkCreated: Encodable {
    var token: String
    var url: String
    var expiresAt: String
}
