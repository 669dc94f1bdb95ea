import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Integrity
import Policy
import S3XML
import Storage

extension S3Gateway {
    func createMultipartUpload(_ call: Call, _ grant: Grant) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let headers = call.request.headers
        let attributes = try ObjectHeaders.attributes(from: headers)
        try screenDeclared(grant, contentType: attributes.contentType, length: nil)
        var algorithm: ChecksumAlgorithm?
        if let name = headers[.amzChecksumAlgorithm] {
            guard let parsed = ChecksumAlgorithm(rawValue: name.uppercased()) else {
                throw S3Error(.invalidRequest, "Checksum algorithm provided is unsupported.")
            }
            algorithm = parsed
        }
        let uploadID = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.createMultipartUpload(bucket: bucket, key: key, attributes: attributes, checksumAlgorithm: algorithm?.rawValue)
        }
        var xml = XMLWriter()
        xml.open("InitiateMultipartUploadResult", attributes: s3Namespace)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", uploadID)
        xml.close("InitiateMultipartUploadResult")
        var out = HTTPFields()
        if let algorithm { out[.amzChecksumAlgorithm] = algorithm.rawValue }
        return Self.xml(xml, headers: out)
    }

    func uploadPart(_ call: Call, _ grant: Grant, uploadID: String, partNumber: Int) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let expectations = try UploadExpectations.from(
            headers: call.request.headers, auth: call.auth, maxLength: maxLength(grant), lengthRequired: true)
        let verified = try UploadVerifier(body: call.request.body, expectations: expectations)
        let body = try await screenFirstPart(grant, bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: verified.uploadBody())
        let part = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: body)
        }
        var out = HTTPFields()
        out[.eTag] = "\"\(part.etag)\""
        Self.addChecksum(part.checksum, to: &out)
        return Response(status: .ok, headers: out)
    }

    func uploadPartCopy(_ call: Call, read: Grant, write: Grant, uploadID: String, partNumber: Int) async throws -> Response {
        let (sourceBucket, sourceKey) = try objectAddress(read)
        let (bucket, key) = try objectAddress(write)
        let headers = call.request.headers
        let reader = try await withObjectErrors(bucket: sourceBucket, key: sourceKey) {
            try await store.openObject(bucket: sourceBucket, key: sourceKey)
        }
        try Self.checkCopySourceConditions(headers, info: reader.info)
        var range: Range<Int64>?
        if let text = headers[.amzCopySourceRange] {
            guard let request = ByteRangeRequest.parse(text), case .from(let start, let end?) = request,
                end < reader.info.size
            else {
                throw S3Error(.invalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
            }
            range = start..<(end + 1)
        }
        let length = range.map { $0.upperBound - $0.lowerBound } ?? reader.info.size
        guard length <= maxLength(write) else {
            throw S3Error(.entityTooLarge, "Your proposed upload exceeds the maximum allowed size")
        }
        let digesting = DigestingBody(reader.read(range: range), checksum: nil, facts: UploadFacts(length: length))
        let body = try await screenFirstPart(write, bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: digesting.uploadBody())
        let part = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, body: body)
        }
        var xml = XMLWriter()
        xml.open("CopyPartResult", attributes: s3Namespace)
        xml.element("LastModified", HTTPDate.iso8601(Date()))
        xml.element("ETag", "\"\(part.etag)\"")
        xml.close("CopyPartResult")
        return Self.xml(xml)
    }

    func completeMultipartUpload(_ call: Call, _ grant: Grant, uploadID: String) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let body = try await Self.collectBody(call)
        let document = try CompleteMultipartUploadDocument(parsing: body)
        guard !document.parts.isEmpty else {
            throw S3Error(.malformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
        }
        let parts = document.parts.map { Storage.CompletedPart(number: $0.partNumber, etag: $0.etagWithoutQuotes) }
        try await screenCompletion(grant, bucket: bucket, key: key, uploadID: uploadID, parts: parts)
        let precondition = try Self.writePrecondition(call.request.headers)
        let info = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts, precondition: precondition)
        }
        await sourceChanged(bucket: bucket, key: key, written: grant)
        var xml = XMLWriter()
        xml.open("CompleteMultipartUploadResult", attributes: s3Namespace)
        xml.element("Location", "/\(bucket)/\(PercentEncoding.encode(key, encodeSlash: false))")
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("ETag", "\"\(info.etag)\"")
        if let checksum = info.effectiveChecksum { xml.element("Checksum" + checksum.algorithm, checksum.value) }
        xml.close("CompleteMultipartUploadResult")
        return Self.xml(xml)
    }

    func abortMultipartUpload(_ call: Call, _ grant: Grant, uploadID: String) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        try await withObjectErrors(bucket: bucket, key: key) {
            try await store.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID)
        }
        return Response(status: .noContent)
    }

    func listParts(_ call: Call, _ grant: Grant, uploadID: String) async throws -> Response {
        let (bucket, key) = try objectAddress(grant)
        let maxParts = try Self.maxKeys(call.line.parameter("max-parts"), name: "max-parts")
        let marker = try call.line.parameter("part-number-marker").map { text throws(S3Error) -> Int in
            guard let value = Int(text), value >= 0 else { throw S3Error(.invalidArgument, "Invalid part-number-marker.") }
            return value
        } ?? 0
        let page = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.listParts(bucket: bucket, key: key, uploadID: uploadID, partNumberMarker: marker, maxParts: maxParts)
        }
        var xml = XMLWriter()
        xml.open("ListPartsResult", attributes: s3Namespace)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", uploadID)
        writeOwner(&xml, call, element: "Initiator")
        writeOwner(&xml, call, element: "Owner")
        xml.element("StorageClass", "STANDARD")
        xml.element("PartNumberMarker", String(marker))
        if let next = page.nextPartNumberMarker { xml.element("NextPartNumberMarker", String(next)) }
        xml.element("MaxParts", String(maxParts))
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        if let algorithm = page.upload.checksumAlgorithm { xml.element("ChecksumAlgorithm", algorithm) }
        for part in page.parts {
            xml.open("Part")
            xml.element("PartNumber", String(part.number))
            xml.element("LastModified", HTTPDate.iso8601(page.upload.initiated))
            xml.element("ETag", "\"\(part.etag)\"")
            xml.element("Size", String(part.size))
            if let checksum = part.checksum { xml.element("Checksum" + checksum.algorithm, checksum.value) }
            xml.close("Part")
        }
        xml.close("ListPartsResult")
        return Self.xml(xml)
    }

    func listMultipartUploads(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        let line = call.line
        let urlEncoded = try Self.encodingType(line)
        let encode: (String) -> String = { urlEncoded ? PercentEncoding.encode($0, encodeSlash: false) : $0 }
        let query = UploadsQuery(
            prefix: line.parameter("prefix") ?? "", delimiter: line.parameter("delimiter").flatMap { $0.isEmpty ? nil : $0 },
            keyMarker: line.parameter("key-marker").flatMap { $0.isEmpty ? nil : $0 },
            uploadIDMarker: line.parameter("upload-id-marker").flatMap { $0.isEmpty ? nil : $0 },
            maxUploads: try Self.maxKeys(line.parameter("max-uploads"), name: "max-uploads"))
        let page = try await withObjectErrors(bucket: bucket, key: "") {
            try await store.listMultipartUploads(bucket: bucket, query: query)
        }
        var xml = XMLWriter()
        xml.open("ListMultipartUploadsResult", attributes: s3Namespace)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", encode(query.keyMarker ?? ""))
        xml.element("UploadIdMarker", query.uploadIDMarker ?? "")
        if let next = page.nextKeyMarker { xml.element("NextKeyMarker", encode(next)) }
        if let next = page.nextUploadIDMarker { xml.element("NextUploadIdMarker", next) }
        xml.element("Prefix", encode(query.prefix))
        if let delimiter = query.delimiter { xml.element("Delimiter", encode(delimiter)) }
        xml.element("MaxUploads", String(query.maxUploads))
        if urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.isTruncated ? "true" : "false")
        for upload in page.uploads {
            xml.open("Upload")
            xml.element("Key", encode(upload.key))
            xml.element("UploadId", upload.uploadID)
            writeOwner(&xml, call, element: "Initiator")
            writeOwner(&xml, call, element: "Owner")
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", HTTPDate.iso8601(upload.initiated))
            if let algorithm = upload.checksumAlgorithm { xml.element("ChecksumAlgorithm", algorithm) }
            xml.close("Upload")
        }
        for commonPrefix in page.commonPrefixes {
            xml.open("CommonPrefixes")
            xml.element("Prefix", encode(commonPrefix))
            xml.close("CommonPrefixes")
        }
        xml.close("ListMultipartUploadsResult")
        return Self.xml(xml)
    }

    func writeOwner(_ xml: inout XMLWriter, _ call: Call, element: String) {
        xml.open(element)
        xml.element("ID", ownerID(call.principal))
        xml.element("DisplayName", ownerName(call.principal))
        xml.close(element)
    }
}

extension S3Gateway {
    /// Part 1 carries the object's first bytes: check them against the upload's declared type.
    func screenFirstPart(_ grant: Grant, bucket: String, key: String, uploadID: String, partNumber: Int, body: UploadBody) async throws -> UploadBody {
        guard partNumber == 1, grant.uploadLimits != nil else { return body }
        let upload = try await withObjectErrors(bucket: bucket, key: key) {
            try await store.listParts(bucket: bucket, key: key, uploadID: uploadID, partNumberMarker: 0, maxParts: 1).upload
        }
        return try await screenContent(grant, attributes: upload.attributes, body: body).0
    }

    /// Before completing: the total stays within the rule's size, and an upload whose bytes must
    /// be checked starts with part 1 (the part whose first bytes were checked).
    func screenCompletion(_ grant: Grant, bucket: String, key: String, uploadID: String, parts: [Storage.CompletedPart]) async throws {
        guard let limits = grant.uploadLimits else { return }
        var sizes: [Int: Int64] = [:]
        var marker = 0
        var upload: UploadInfo?
        while true {
            let page = try await withObjectErrors(bucket: bucket, key: key) {
                try await store.listParts(bucket: bucket, key: key, uploadID: uploadID, partNumberMarker: marker, maxParts: 1000)
            }
            upload = page.upload
            for part in page.parts { sizes[part.number] = part.size }
            guard page.isTruncated, let next = page.nextPartNumberMarker else { break }
            marker = next
        }
        if let first = parts.first?.number, first != 1, needsSignatureCheck(grant, contentType: upload?.attributes.contentType) {
            throw S3Error(.invalidArgument, "A multipart upload to this key must start with part 1, whose content is checked.")
        }
        let total = parts.reduce(Int64(0)) { $0 + (sizes[$1.number] ?? 0) }
        try limits.checkLength(total)
    }
}
