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
        // Appended, not set: the names are distinct, and setting one searches the fields first.
        var headers = HTTPFields()
        headers.reserveCapacity(12 + info.attributes.userMetadata.count)
        headers.append(HTTPField(name: .eTag, value: "\"\(info.etag)\""))
        headers.append(HTTPField(name: .lastModified, value: HTTPDate.rfc1123(info.lastModified)))
        headers.append(HTTPField(name: .acceptRanges, value: "bytes"))
        headers.append(HTTPField(name: .contentType, value: info.attributes.contentType ?? "binary/octet-stream"))
        headers.append(HTTPField(name: .xContentTypeOptions, value: "nosniff"))
        if let value = info.attributes.cacheControl { headers.append(HTTPField(name: .cacheControl, value: value)) }
        if let value = info.attributes.contentDisposition { headers.append(HTTPField(name: .contentDisposition, value: value)) }
        if let value = info.attributes.contentEncoding { headers.append(HTTPField(name: .contentEncoding, value: value)) }
        if let value = info.attributes.contentLanguage { headers.append(HTTPField(name: .contentLanguage, value: value)) }
        if let value = info.attributes.expires { headers.append(HTTPField(name: .expires, value: value)) }
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
