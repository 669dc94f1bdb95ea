import GatewayCore

/// One S3 API operation with its addressing, as parsed from a request line.
///
/// Produced by ``S3Operation/parse(_:)`` — a pure function tested by a table of
/// `METHOD /path?query → case`. The permission a request needs follows from the case alone.
public enum S3Operation: Sendable, Equatable {
    case listBuckets
    case createBucket(bucket: String)
    case headBucket(bucket: String)
    case deleteBucket(bucket: String)
    case getBucketLocation(bucket: String)
    case getBucketVersioning(bucket: String)
    case listObjectsV1(bucket: String)
    case listObjectsV2(bucket: String)
    case listMultipartUploads(bucket: String)
    case deleteObjects(bucket: String)

    case putObject(bucket: String, key: String)
    case copyObject(bucket: String, key: String, source: CopySource)
    case getObject(bucket: String, key: String)
    case headObject(bucket: String, key: String)
    case deleteObject(bucket: String, key: String)

    case createMultipartUpload(bucket: String, key: String)
    case uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int)
    case uploadPartCopy(bucket: String, key: String, uploadID: String, partNumber: Int, source: CopySource)
    case completeMultipartUpload(bucket: String, key: String, uploadID: String)
    case abortMultipartUpload(bucket: String, key: String, uploadID: String)
    case listParts(bucket: String, key: String, uploadID: String)

    /// The bucket the operation addresses, if any.
    public var bucket: String? {
        switch self {
        case .listBuckets: return nil
        case .createBucket(let b), .headBucket(let b), .deleteBucket(let b), .getBucketLocation(let b),
            .getBucketVersioning(let b), .listObjectsV1(let b), .listObjectsV2(let b),
            .listMultipartUploads(let b), .deleteObjects(let b):
            return b
        case .putObject(let b, _), .copyObject(let b, _, _), .getObject(let b, _), .headObject(let b, _),
            .deleteObject(let b, _), .createMultipartUpload(let b, _), .uploadPart(let b, _, _, _),
            .uploadPartCopy(let b, _, _, _, _), .completeMultipartUpload(let b, _, _),
            .abortMultipartUpload(let b, _, _), .listParts(let b, _, _):
            return b
        }
    }

    /// The object key the operation addresses, if any.
    public var key: String? {
        switch self {
        case .putObject(_, let k), .copyObject(_, let k, _), .getObject(_, let k), .headObject(_, let k),
            .deleteObject(_, let k), .createMultipartUpload(_, let k), .uploadPart(_, let k, _, _),
            .uploadPartCopy(_, let k, _, _, _), .completeMultipartUpload(_, let k, _),
            .abortMultipartUpload(_, let k, _), .listParts(_, let k, _):
            return k
        default:
            return nil
        }
    }

    /// The operation's name as AWS documents it (used in logs and metrics labels).
    public var name: String {
        switch self {
        case .listBuckets: "ListBuckets"
        case .createBucket: "CreateBucket"
        case .headBucket: "HeadBucket"
        case .deleteBucket: "DeleteBucket"
        case .getBucketLocation: "GetBucketLocation"
        case .getBucketVersioning: "GetBucketVersioning"
        case .listObjectsV1: "ListObjects"
        case .listObjectsV2: "ListObjectsV2"
        case .listMultipartUploads: "ListMultipartUploads"
        case .deleteObjects: "DeleteObjects"
        case .putObject: "PutObject"
        case .copyObject: "CopyObject"
        case .getObject: "GetObject"
        case .headObject: "HeadObject"
        case .deleteObject: "DeleteObject"
        case .createMultipartUpload: "CreateMultipartUpload"
        case .uploadPart: "UploadPart"
        case .uploadPartCopy: "UploadPartCopy"
        case .completeMultipartUpload: "CompleteMultipartUpload"
        case .abortMultipartUpload: "AbortMultipartUpload"
        case .listParts: "ListParts"
        }
    }
}

/// The source of a copy, from `x-amz-copy-source` (`bucket/key` or `/bucket/key`, URL-encoded,
/// optionally `?versionId=`).
public struct CopySource: Sendable, Equatable {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Parses the header value.
    /// - Throws: ``S3Error`` `InvalidArgument` when it names no bucket and key.
    public static func parse(_ header: String) throws(S3Error) -> CopySource {
        var value = Substring(header)
        if let question = value.firstIndex(of: "?") {
            let query = value[value.index(after: question)...]
            if query.hasPrefix("versionId="), query != "versionId=null" {
                throw S3Error(.notImplemented, "Object versions are not supported.")
            }
            value = value[..<question]
        }
        guard let decoded = PercentEncoding.decode(value, plusAsSpace: false) else {
            throw S3Error(.invalidArgument, "Invalid copy source encoding.")
        }
        var path = Substring(decoded)
        if path.hasPrefix("/") { path = path.dropFirst() }
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex else {
            throw S3Error(.invalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
        }
        let key = path[path.index(after: slash)...]
        guard !key.isEmpty else {
            throw S3Error(.invalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
        }
        return CopySource(bucket: String(path[..<slash]), key: String(key))
    }
}
