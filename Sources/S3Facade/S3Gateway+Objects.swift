import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Integrity
import NIOCore
import Policy
import S3XML
import Storage
import VariantEngine

extension S3Gateway {
    func putObject(_ call: Call, _ grant: Grant) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let headers = call.request.headers
        let declared = try ObjectHeaders.attributes(from: headers)
        let precondition = try Self.writePrecondition(headers)
        try screenDeclared(grant, contentType: declared.contentType, length: nil)
        let expectations = try UploadExpectations.from(
            headers: headers, auth: call.auth, maxLength: maxLength(grant), lengthRequired: true)
        let verified = try UploadVerifier(body: call.request.body, expectations: expectations)
        let (body, attributes) = try await screenContent(grant, attributes: declared, body: verified.uploadBody())
        let info = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.putObject(
                bucket: bucket, key: key, attributes: attributes, precondition: precondition, origin: .client,
                body: body)
        }
        await sourceChanged(bucket: bucket, key: key, written: grant)
        var out = HTTPFields()
        out[.eTag] = "\"\(info.etag)\""
        Self.addChecksum(info.checksum, to: &out)
        return Response(status: .ok, headers: out)
    }

    func getObject(_ call: Call, _ grant: Grant) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let headers = call.request.headers
        let reader = try await withObjectErrors(bucket: bucket, key: key) {
            if let variants, let variant = try await variants.open(bucket: bucket, key: key, watermark: watermarkText(grant)) {
                return variant
            }
            return try await store.openObject(bucket: bucket, key: key)
        }
        let info = reader.info
        if let failure = ReadConditions(headers: headers).evaluate(etag: info.etag, lastModified: info.lastModified) {
            if failure.code == .notModified {
                var out = HTTPFields()
                out[.eTag] = "\"\(info.etag)\""
                out[.lastModified] = HTTPDate.rfc1123(info.lastModified)
                return Response(status: .notModified, headers: out)
            }
            throw failure
        }
        let checksumMode = headers[.amzChecksumMode]?.uppercased() == "ENABLED"
        var out: HTTPFields = ObjectHeaders.readHeaders(for: info, line: call.line, checksumMode: checksumMode)

        var range: Range<Int64>?
        let rangeHeader = headers[.range].flatMap(ByteRangeRequest.parse)
        if let partText = call.line.parameter("partNumber") {
            guard rangeHeader == nil else { throw S3Error(.invalidRequest, "Cannot specify both Range header and partNumber query parameter.") }
            guard let number = Int(partText), (1...10_000).contains(number) else {
                throw S3Error(.invalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
            }
            if info.isMultipart {
                guard number <= info.parts.count else { throw S3Error(.invalidPartNumber, "The requested partnumber is not satisfiable") }
                let start = info.parts[..<(number - 1)].reduce(Int64(0)) { $0 + $1.size }
                range = start..<(start + info.parts[number - 1].size)
                out[.amzMpPartsCount] = String(info.parts.count)
            } else {
                guard number == 1 else { throw S3Error(.invalidPartNumber, "The requested partnumber is not satisfiable") }
            }
            if checksumMode { out[.amzChecksumType] = nil }
        } else if let rangeHeader {
            range = try rangeHeader.resolve(size: info.size)
        }
        var status = HTTPResponse.Status.ok
        var length = info.size
        if let range {
            length = range.upperBound - range.lowerBound
            // A Range header or a multipart partNumber answers 206, even for the whole object.
            status = .partialContent
            out[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(info.size)"
            // A checksum covers the whole object, never a range.
            if rangeHeader != nil {
                for algorithm in ChecksumAlgorithm.allCases { out[.amzChecksum(algorithm)] = nil }
                out[.amzChecksumType] = nil
            }
        }
        out[.contentLength] = String(length)
        if call.request.method == .head {
            return Response(status: status, headers: out)
        }
        let stream = reader.read(range: range)
        if length <= Self.bufferedBodyLimit {
            // Small bodies are read before the answer starts: one buffer to write, and a read
            // failure still gets an S3 error instead of a connection closed mid-body.
            let whole = try await Self.collect(stream, length: Int(length), key: key)
            return Response(status: status, headers: out, body: ResponseBody(byteBuffer: whole))
        }
        let body = ResponseBody(contentLength: Int(length)) { writer in
            for try await buffer in stream { try await writer.write(buffer) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: out, body: body)
    }

    /// Bodies up to this size are answered from one buffer (see ``getObject(_:_:)``).
    static let bufferedBodyLimit: Int64 = 256 << 10

    /// All of `stream`, which must be `length` bytes long.
    static func collect(_ stream: ByteStream, length: Int, key: String) async throws -> ByteBuffer {
        var whole: ByteBuffer?
        for try await buffer in stream {
            if whole == nil, buffer.readableBytes == length {
                whole = buffer
            } else {
                var chunk = buffer
                if whole == nil { whole = ByteBuffer(); whole?.reserveCapacity(length) }
                whole?.writeBuffer(&chunk)
            }
        }
        let body = whole ?? ByteBuffer()
        guard body.readableBytes == length else {
            throw StorageError(.internalError, "\(key): read \(body.readableBytes) of \(length) bytes")
        }
        return body
    }

    func deleteObject(_ call: Call, _ grant: Grant) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        _ = try await withObjectErrors(bucket: bucket, key: key) { try await store.deleteObject(bucket: bucket, key: key) }
        await sourceChanged(bucket: bucket, key: key)
        return Response(status: .noContent)
    }

    func copyObject(_ call: Call, read: Grant, write: Grant) async throws -> Response {
        let (sourceBucket, sourceKey) = try objectAddress(read)
        let (bucket, key) = try objectAddress(write)
        let headers = call.request.headers
        let reader = try await withObjectErrors(bucket: sourceBucket, key: sourceKey) {
            try await store.openObject(bucket: sourceBucket, key: sourceKey)
        }
        let source = reader.info
        try Self.checkCopySourceConditions(headers, info: source)
        guard source.size <= configuration.maxUploadSize else {
            throw S3Error(.invalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: \(configuration.maxUploadSize)")
        }
        let directive = headers[.amzMetadataDirective]?.uppercased() ?? "COPY"
        let attributes: ObjectAttributes
        switch directive {
        case "COPY":
            if sourceBucket == bucket, sourceKey.utf8.elementsEqual(key.utf8) {
                throw S3Error(.invalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
            }
            attributes = source.attributes
        case "REPLACE":
            attributes = try ObjectHeaders.attributes(from: headers)
        default:
            throw S3Error(.invalidArgument, "Unknown metadata directive.")
        }
        try screenDeclared(write, contentType: attributes.contentType, length: source.size)
        let algorithm = headers[.amzChecksumAlgorithm].flatMap { ChecksumAlgorithm(rawValue: $0.uppercased()) }
            ?? source.checksum.flatMap { ChecksumAlgorithm(rawValue: $0.algorithm) }
        // A single-part source's checksum is a whole-object checksum: the copy's, when the algorithm stays.
        let known = UploadFacts(length: source.size, checksum: source.isMultipart ? nil : source.checksum)
        let digesting = DigestingBody(reader.read(range: nil), checksum: algorithm, facts: known)
        let (body, checkedAttributes) = try await screenContent(write, attributes: attributes, body: digesting.uploadBody())
        let info = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.putObject(
                bucket: bucket, key: key, attributes: checkedAttributes, precondition: try Self.writePrecondition(headers),
                origin: .client, body: body)
        }
        await sourceChanged(bucket: bucket, key: key, written: write)
        var xml = XMLWriter()
        xml.open("CopyObjectResult", attributes: s3Namespace)
        xml.element("LastModified", HTTPDate.iso8601(info.lastModified))
        xml.element("ETag", "\"\(info.etag)\"")
        if let checksum = info.checksum { xml.element("Checksum" + checksum.algorithm, checksum.value) }
        xml.close("CopyObjectResult")
        return Self.xml(xml)
    }

    func deleteObjects(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        let headers = call.request.headers
        var hasDigest = headers[.contentMD5] != nil
        hasDigest = hasDigest || headers[.amzTrailer] != nil
        for algorithm in ChecksumAlgorithm.allCases where headers[.amzChecksum(algorithm)] != nil {
            hasDigest = true
        }
        guard hasDigest else {
            throw S3Error(.invalidRequest, "Missing required header for this request: Content-MD5")
        }
        let body = try await Self.collectBody(call, limit: 2 * 1024 * 1024)
        let document = try DeleteObjectsDocument(parsing: body)
        guard try await store.bucket(bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        var xml = XMLWriter()
        xml.open("DeleteResult", attributes: s3Namespace)
        for object in document.objects {
            do {
                let entry = try await authorize(call, .deleteObject, bucket: bucket, key: object.key)
                try await store.deleteObject(bucket: bucket, key: entry.resource.key ?? "")
                await sourceChanged(bucket: bucket, key: object.key)
                if !document.quiet {
                    xml.open("Deleted")
                    xml.element("Key", object.key)
                    xml.close("Deleted")
                }
            } catch {
                let s3Error = ErrorMapping.s3Error(for: error, logger: call.logger)
                xml.open("Error")
                xml.element("Key", object.key)
                xml.element("Code", s3Error.code.rawValue)
                xml.element("Message", s3Error.message)
                xml.close("Error")
            }
        }
        xml.close("DeleteResult")
        return Self.xml(xml)
    }

    // MARK: Helpers

    /// After a write or delete: a changed source's derived variants go (reads never serve them
    /// anyway, since each variant records the ETag of the source it was made from).
    func sourceChanged(bucket: String, key: String, written grant: Grant? = nil) async {
        guard VariantAddress.sourceDirectory(of: key) != nil else { return }
        if grant != nil { mediaInfo?.computeLater(bucket: bucket, key: key) }
        guard let variants else { return }
        await variants.invalidate(bucket: bucket, sourceKey: key)
        if let grant { variants.prewarm(bucket: bucket, sourceKey: key, watermark: watermarkText(grant)) }
    }

    /// The watermark text for a key: the configured text, else `© <owning tenant>`.
    func watermarkText(_ grant: Grant) -> String {
        if let text = configuration.watermarkText { return text }
        return "© " + (grant.classification?.owner?.name ?? "mediagate")
    }

    func objectAddress(_ grant: Grant) throws -> (String, String) {
        guard let bucket = grant.resource.bucket, let key = grant.resource.key else {
            logger.error("grant without an object", metadata: ["operation": "\(grant.action)"])
            throw S3Error(.internalError, "We encountered an internal error. Please try again.")
        }
        return (bucket, key)
    }

    /// Adds bucket and key details to not-found errors.
    func withObjectErrors<T>(bucket: String, key: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StorageError where error.code == .noSuchKey {
            throw S3Error.noSuchKey(key)
        } catch let error as StorageError where error.code == .noSuchBucket {
            throw S3Error.noSuchBucket(bucket)
        }
    }

    static func writePrecondition(_ headers: HTTPFields) throws(S3Error) -> WritePrecondition {
        if let value = headers[.ifNoneMatch] {
            guard value.trimmingCharacters(in: .whitespaces) == "*" else {
                throw S3Error(.notImplemented, "If-None-Match on writes supports only '*'.")
            }
            if headers[.ifMatch] != nil {
                throw S3Error(.invalidRequest, "If-Match and If-None-Match cannot be combined on writes.")
            }
            return .ifAbsent
        }
        if let value = headers[.ifMatch] {
            var etag = value.trimmingCharacters(in: .whitespaces)
            if etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count >= 2 { etag = String(etag.dropFirst().dropLast()) }
            return .ifMatch(etag: etag)
        }
        return .none
    }

    static func addChecksum(_ checksum: StoredChecksum?, to headers: inout HTTPFields) {
        guard let checksum, let algorithm = ChecksumAlgorithm(rawValue: checksum.algorithm) else { return }
        headers[.amzChecksum(algorithm)] = checksum.value
    }

    static func checkCopySourceConditions(_ headers: HTTPFields, info: ObjectInfo) throws(S3Error) {
        let conditions = ReadConditions(
            ifMatch: headers[.amzCopySourceIfMatch],
            ifNoneMatch: headers[.amzCopySourceIfNoneMatch],
            ifModifiedSince: headers[.amzCopySourceIfModifiedSince].flatMap(HTTPDate.parse),
            ifUnmodifiedSince: headers[.amzCopySourceIfUnmodifiedSince].flatMap(HTTPDate.parse))
        if conditions.evaluate(etag: info.etag, lastModified: info.lastModified) != nil {
            throw ReadConditions.preconditionFailed
        }
    }
}
