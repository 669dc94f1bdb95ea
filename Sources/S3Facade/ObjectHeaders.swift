import Foundation
import GatewayCore
import HTTPTypes
import Integrity
import NIOHTTP1
import Storage

/// Reading and writing the headers that carry object attributes.
enum ObjectHeaders {
    /// The attributes a PUT, copy (REPLACE) or multipart create sets.
    static func attributes(from headers: HTTPFields) throws(S3Error) -> ObjectAttributes {
        var attributes = ObjectAttributes()
        attributes.contentType = headers[.contentType]
        attributes.cacheControl = headers[.cacheControl]
        attributes.contentDisposition = headers[.contentDisposition]
        attributes.contentLanguage = headers[.contentLanguage]
        attributes.expires = headers[.expires]
        if let encoding = headers[.contentEncoding] {
            // aws-chunked is a transfer detail, not part of the object.
            let kept = encoding.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && $0.lowercased() != "aws-chunked" }
            attributes.contentEncoding = kept.isEmpty ? nil : kept.joined(separator: ",")
        }
        var metadataSize = 0
        for field in headers {
            let name = field.name.canonicalName
            guard name.hasPrefix("x-amz-meta-") else { continue }
            let key = String(name.dropFirst("x-amz-meta-".count))
            metadataSize += key.utf8.count + field.value.utf8.count
            if let existing = attributes.userMetadata[key] {
                attributes.userMetadata[key] = existing + "," + field.value
            } else {
                attributes.userMetadata[key] = field.value
            }
        }
        if metadataSize > 2048 {
            throw S3Error(.invalidArgument, "Your metadata headers exceed the maximum allowed metadata size.")
        }
        return attributes
    }

    /// Headers describing a stored object on GET/HEAD.
    static func responseHeaders<Headers: ResponseHeaders>(for info: ObjectInfo, checksumMode: Bool) -> Headers {
        // Appended, not set: the names are distinct, and setting one searches the fields first.
        var headers = Headers()
        headers.reserveCapacity(12 + info.attributes.userMetadata.count)
        headers.append(.eTag, "\"\(info.etag)\"")
        headers.append(.lastModified, HTTPDate.rfc1123(info.lastModified))
        headers.append(.acceptRanges, "bytes")
        headers.append(.contentType, info.attributes.contentType ?? "binary/octet-stream")
        headers.append(.xContentTypeOptions, "nosniff")
        if let value = info.attributes.cacheControl { headers.append(.cacheControl, value) }
        if let value = info.attributes.contentDisposition { headers.append(.contentDisposition, value) }
        if let value = info.attributes.contentEncoding { headers.append(.contentEncoding, value) }
        if let value = info.attributes.contentLanguage { headers.append(.contentLanguage, value) }
        if let value = info.attributes.expires { headers.append(.expires, value) }
        for (key, value) in info.attributes.userMetadata.sorted(by: { $0.key < $1.key }) {
            if let name = HTTPField.Name("x-amz-meta-" + key) { headers.set(name, value) }
        }
        if checksumMode, let checksum = info.effectiveChecksum, let algorithm = ChecksumAlgorithm(rawValue: checksum.algorithm) {
            headers.set(.amzChecksum(algorithm), checksum.value)
            headers.set(.amzChecksumType, info.isMultipart ? "COMPOSITE" : "FULL_OBJECT")
        }
        return headers
    }

    /// The headers of a GET or HEAD of `info`: its attributes with the request's overrides.
    static func readHeaders<Headers: ResponseHeaders>(for info: ObjectInfo, line: S3RequestLine, checksumMode: Bool) -> Headers {
        var headers: Headers = responseHeaders(for: info, checksumMode: checksumMode)
        applyOverrides(line, to: &headers)
        return headers
    }

    /// Applies `response-content-*` query overrides (signed requests only, as in S3).
    static func applyOverrides<Headers: ResponseHeaders>(_ line: S3RequestLine, to headers: inout Headers) {
        // Most reads have none: one pass over the query says so.
        guard line.query.contains(where: { $0.name.hasPrefix("response-") }) else { return }
        for (parameter, name) in overrides {
            if let value = line.parameter(parameter) { headers.set(name, value) }
        }
    }

    /// The `response-*` query parameters S3 honours, and the header each one sets.
    private static let overrides: [(String, HTTPField.Name)] = [
        ("response-content-type", .contentType), ("response-content-language", .contentLanguage),
        ("response-expires", .expires), ("response-cache-control", .cacheControl),
        ("response-content-disposition", .contentDisposition), ("response-content-encoding", .contentEncoding),
    ]
}

/// Where an answer's headers are written: HTTP types' fields (the regular path), or NIO's
/// HTTP/1 headers (the answers made in the channel pipeline, ``ImmediateRequestHandler``, which
/// go to NIO's encoder without a conversion).
protocol ResponseHeaders {
    init()
    mutating func reserveCapacity(_ minimumCapacity: Int)
    /// Adds a field; the caller knows none of that name is there.
    mutating func append(_ name: HTTPField.Name, _ value: String)
    /// Sets a field, in place of any of the same name.
    mutating func set(_ name: HTTPField.Name, _ value: String)
}

extension HTTPFields: ResponseHeaders {
    mutating func append(_ name: HTTPField.Name, _ value: String) { append(HTTPField(name: name, value: value)) }
    mutating func set(_ name: HTTPField.Name, _ value: String) { self[name] = value }
}

extension HTTPHeaders: ResponseHeaders {
    init() { self.init([]) }

    mutating func append(_ name: HTTPField.Name, _ value: String) { add(name: name.rawName, value: Self.sendable(name, value)) }
    mutating func set(_ name: HTTPField.Name, _ value: String) { replaceOrAdd(name: name.rawName, value: Self.sendable(name, value)) }

    /// The value as HTTP types would send it. A value may carry what a field must not (a line
    /// break decoded from a `response-*` parameter, for one); NIO's encoder writes values as
    /// they are, and `HTTPField` replaces such bytes.
    private static func sendable(_ name: HTTPField.Name, _ value: String) -> String {
        HTTPField.isValidValue(value) ? value : HTTPField(name: name, value: value).value
    }
}
