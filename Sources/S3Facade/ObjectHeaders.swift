import Foundation
import GatewayCore
import HTTPTypes
import Integrity
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
    static func responseHeaders(for info: ObjectInfo, checksumMode: Bool) -> HTTPFields {
        var headers = HTTPFields()
        headers[.eTag] = "\"\(info.etag)\""
        headers[.lastModified] = HTTPDate.rfc1123(info.lastModified)
        headers[.acceptRanges] = "bytes"
        headers[.contentType] = info.attributes.contentType ?? "binary/octet-stream"
        headers[.xContentTypeOptions] = "nosniff"
        if let value = info.attributes.cacheControl { headers[.cacheControl] = value }
        if let value = info.attributes.contentDisposition { headers[.contentDisposition] = value }
        if let value = info.attributes.contentEncoding { headers[.contentEncoding] = value }
        if let value = info.attributes.contentLanguage { headers[.contentLanguage] = value }
        if let value = info.attributes.expires { headers[.expires] = value }
        for (key, value) in info.attributes.userMetadata.sorted(by: { $0.key < $1.key }) {
            if let name = HTTPField.Name("x-amz-meta-" + key) { headers[name] = value }
        }
        if checksumMode, let checksum = info.effectiveChecksum, let algorithm = ChecksumAlgorithm(rawValue: checksum.algorithm) {
            headers[.amzChecksum(algorithm)] = checksum.value
            if info.isMultipart { headers[.amzChecksumType] = "COMPOSITE" } else { headers[.amzChecksumType] = "FULL_OBJECT" }
        }
        return headers
    }

    /// The headers of a GET or HEAD of `info`: its attributes with the request's overrides.
    static func readHeaders(for info: ObjectInfo, line: S3RequestLine, checksumMode: Bool) -> HTTPFields {
        var headers = responseHeaders(for: info, checksumMode: checksumMode)
        applyOverrides(line, to: &headers)
        return headers
    }

    /// Applies `response-content-*` query overrides (signed requests only, as in S3).
    static func applyOverrides(_ line: S3RequestLine, to headers: inout HTTPFields) {
        let overrides: [(String, HTTPField.Name)] = [
            ("response-content-type", .contentType), ("response-content-language", .contentLanguage),
            ("response-expires", .expires), ("response-cache-control", .cacheControl),
            ("response-content-disposition", .contentDisposition), ("response-content-encoding", .contentEncoding),
        ]
        for (parameter, name) in overrides {
            if let value = line.parameter(parameter) { headers[name] = value }
        }
    }
}
