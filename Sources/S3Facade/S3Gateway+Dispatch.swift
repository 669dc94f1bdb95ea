import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Policy
import S3XML
import Storage

extension S3Gateway {
    /// Authorizes the operation's primary action, then runs its handler with the grant.
    func dispatch(_ call: Call) async throws -> Response {
        switch call.operation {
        case .listBuckets:
            return try await listBuckets(call, try await authorize(call, .listBuckets, bucket: nil, key: nil))
        case .createBucket(let bucket):
            return try await createBucket(call, try await authorize(call, .createBucket, bucket: bucket, key: nil))
        case .headBucket(let bucket):
            return try await headBucket(call, try await authorize(call, .readBucket, bucket: bucket, key: nil))
        case .deleteBucket(let bucket):
            return try await deleteBucket(call, try await authorize(call, .deleteBucket, bucket: bucket, key: nil))
        case .getBucketLocation(let bucket):
            return try await getBucketLocation(call, try await authorize(call, .readBucket, bucket: bucket, key: nil))
        case .getBucketVersioning(let bucket):
            return try await getBucketVersioning(call, try await authorize(call, .readBucket, bucket: bucket, key: nil))
        case .listObjectsV1(let bucket), .listObjectsV2(let bucket):
            let prefix = call.line.parameter("prefix") ?? ""
            return try await listObjects(call, try await authorize(call, .listObjects, bucket: bucket, key: prefix))
        case .listMultipartUploads(let bucket):
            let prefix = call.line.parameter("prefix") ?? ""
            return try await listMultipartUploads(call, try await authorize(call, .listObjects, bucket: bucket, key: prefix))
        case .deleteObjects(let bucket):
            return try await deleteObjects(call, try await authorize(call, .readBucket, bucket: bucket, key: nil))
        case .putObject(let bucket, let key):
            return try await putObject(call, try await authorize(call, .writeObject, bucket: bucket, key: key))
        case .copyObject(let bucket, let key, let source):
            let read = try await authorize(call, .readObject, bucket: source.bucket, key: source.key)
            return try await copyObject(call, read: read, write: try await authorize(call, .writeObject, bucket: bucket, key: key))
        case .getObject(let bucket, let key), .headObject(let bucket, let key):
            return try await getObject(call, try await authorize(call, .readObject, bucket: bucket, key: key))
        case .deleteObject(let bucket, let key):
            return try await deleteObject(call, try await authorize(call, .deleteObject, bucket: bucket, key: key))
        case .createMultipartUpload(let bucket, let key):
            return try await createMultipartUpload(call, try await authorize(call, .writeObject, bucket: bucket, key: key))
        case .uploadPart(let bucket, let key, let uploadID, let partNumber):
            return try await uploadPart(call, try await authorize(call, .writeObject, bucket: bucket, key: key), uploadID: uploadID, partNumber: partNumber)
        case .uploadPartCopy(let bucket, let key, let uploadID, let partNumber, let source):
            let read = try await authorize(call, .readObject, bucket: source.bucket, key: source.key)
            let write = try await authorize(call, .writeObject, bucket: bucket, key: key)
            return try await uploadPartCopy(call, read: read, write: write, uploadID: uploadID, partNumber: partNumber)
        case .completeMultipartUpload(let bucket, let key, let uploadID):
            return try await completeMultipartUpload(call, try await authorize(call, .writeObject, bucket: bucket, key: key), uploadID: uploadID)
        case .abortMultipartUpload(let bucket, let key, let uploadID):
            // Erasing is always allowed where deleting is (SPEC §4): abort is a delete.
            return try await abortMultipartUpload(call, try await authorize(call, .deleteObject, bucket: bucket, key: key), uploadID: uploadID)
        case .listParts(let bucket, let key, let uploadID):
            return try await listParts(call, try await authorize(call, .readObject, bucket: bucket, key: key), uploadID: uploadID)
        }
    }

    /// An XML answer.
    static func xml(_ writer: XMLWriter, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/xml"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    /// Reads a small request body (XML documents), verified like any upload: payload hash,
    /// aws-chunked signatures, Content-MD5 and checksums.
    /// - Throws: ``S3Error`` `MalformedXML` past `limit`, or the verification's errors.
    static func collectBody(_ call: Call, limit: Int = 4 * 1024 * 1024) async throws -> [UInt8] {
        let tooLarge = S3Error(.malformedXML, "The XML you provided was too large.")
        if let declared = call.request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw tooLarge
        }
        let expectations = try UploadExpectations.from(headers: call.request.headers, auth: call.auth, maxLength: Int64.max)
        let body = try UploadVerifier(body: call.request.body, expectations: expectations).uploadBody()
        var bytes: [UInt8] = []
        for try await buffer in body.chunks {
            guard bytes.count + buffer.readableBytes <= limit else { throw tooLarge }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        _ = try await body.finish()
        return bytes
    }
}

/// The S3 XML namespace.
let s3Namespace = [("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")]
