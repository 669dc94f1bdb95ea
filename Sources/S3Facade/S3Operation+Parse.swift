import GatewayCore

/// The parts of a request line that select an S3 operation.
public struct S3RequestLine: Sendable, Equatable {
    public var method: String
    /// The path as sent, percent-encoded, without the query.
    public var rawPath: String
    /// Query parameters, decoded, in order.
    public var query: [(name: String, value: String)]
    /// The `Host` header, if any (virtual-host addressing).
    public var host: String?
    /// Headers that influence routing: `x-amz-copy-source`.
    public var copySource: String?

    public init(method: String, rawPath: String, query: [(name: String, value: String)], host: String?, copySource: String?) {
        self.method = method
        self.rawPath = rawPath
        self.query = query
        self.host = host
        self.copySource = copySource
    }

    /// The first value of a query parameter.
    public func parameter(_ name: String) -> String? {
        query.first(where: { $0.name == name })?.value
    }

    /// Whether a query parameter is present (with or without a value).
    public func has(_ name: String) -> Bool {
        query.contains(where: { $0.name == name })
    }

    public static func == (lhs: S3RequestLine, rhs: S3RequestLine) -> Bool {
        lhs.method == rhs.method && lhs.rawPath == rhs.rawPath && lhs.host == rhs.host
            && lhs.copySource == rhs.copySource
            && lhs.query.map { [$0.name, $0.value] } == rhs.query.map { [$0.name, $0.value] }
    }

    /// Splits a raw query string into decoded pairs (`+` means space, as in forms).
    /// - Throws: ``S3Error`` `InvalidArgument` for malformed escapes.
    public static func parseQuery(_ rawQuery: Substring) throws(S3Error) -> [(name: String, value: String)] {
        try parseQuery(QueryString.items(rawQuery))
    }

    /// ``parseQuery(_:)`` from a query already split (the SigV4 verifier splits it first).
    ///
    /// A presigned URL's own `X-Amz-*` parameters are checked but left out: the verifier has
    /// used them, no operation reads them, and they were most of a presigned GET's strings.
    public static func parseQuery(_ items: QueryString.Parameters) throws(S3Error) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for item in items {
            guard !item.malformed else { throw S3Error(.invalidArgument, "Malformed query string.") }
            if isPresignedAuthParameter(item.name) { continue }
            guard let name = String(validating: item.name, as: UTF8.self),
                  let value = String(validating: item.value, as: UTF8.self)
            else { throw S3Error(.invalidArgument, "Malformed query string.") }
            result.append((name, value))
        }
        return result
    }

    private static func isPresignedAuthParameter(_ name: ArraySlice<UInt8>) -> Bool {
        guard name.count >= 10, name.starts(with: "X-Amz-".utf8) else { return false }
        return presignedAuthParameters.contains { name.elementsEqual($0) }
    }

    private static let presignedAuthParameters: [[UInt8]] = [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
        "X-Amz-Signature", "X-Amz-Security-Token",
    ].map { Array($0.utf8) }
}

/// Sub-resources that select bucket operations this gateway does not implement.
private let unsupportedSubresources: Set<String> = [
    "acl", "policy", "cors", "lifecycle", "tagging", "website", "logging", "notification",
    "replication", "encryption", "object-lock", "publicAccessBlock", "ownershipControls",
    "requestPayment", "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering",
    "versions", "retention", "legal-hold", "torrent", "restore", "select", "attributes", "policyStatus",
]

extension S3Operation {
    /// The largest key S3 accepts, in UTF-8 bytes.
    public static let maxKeyLength = 1024

    /// Turns a request line into an operation.
    ///
    /// Path style is `/bucket/key`; with `domain` set, a `Host` of `bucket.domain` selects
    /// virtual-host style, where the whole path is the key.
    /// - Throws: ``S3Error`` (`InvalidURI`, `KeyTooLongError`, `NotImplemented`,
    ///   `MethodNotAllowed`, `InvalidArgument`).
    public static func parse(_ line: S3RequestLine, domain: String? = nil) throws(S3Error) -> S3Operation {
        guard let path = PercentEncoding.decode(line.rawPath, plusAsSpace: false), path.hasPrefix("/") else {
            throw S3Error(.invalidURI, "Couldn't parse the specified URI.")
        }
        let bucket: String?
        let key: String
        if let hostBucket = virtualHostBucket(host: line.host, domain: domain) {
            bucket = hostBucket
            key = String(path.dropFirst())
        } else {
            let rest = path.dropFirst()
            if let slash = rest.firstIndex(of: "/") {
                bucket = String(rest[..<slash])
                key = String(rest[rest.index(after: slash)...])
            } else {
                bucket = rest.isEmpty ? nil : String(rest)
                key = ""
            }
        }
        if key.utf8.count > maxKeyLength {
            throw S3Error(.keyTooLong, "Your key is too long.")
        }
        guard let bucket else {
            guard line.method == "GET" else {
                throw S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.")
            }
            return .listBuckets
        }
        if key.isEmpty {
            return try bucketOperation(line, bucket: bucket)
        }
        return try objectOperation(line, bucket: bucket, key: key)
    }

    /// The bucket named by a `bucket.domain` Host, or nil (path style).
    static func virtualHostBucket(host: String?, domain: String?) -> String? {
        guard let domain, !domain.isEmpty, var host = host?.lowercased() else { return nil }
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            host = String(host[..<colon])
        }
        let suffix = "." + domain.lowercased()
        guard host.hasSuffix(suffix), host.count > suffix.count else { return nil }
        return String(host.dropLast(suffix.count))
    }

    private static func rejectUnsupported(_ line: S3RequestLine) throws(S3Error) {
        if let name = line.query.first(where: { unsupportedSubresources.contains($0.name) })?.name {
            throw S3Error(.notImplemented, "The '\(name)' sub-resource is not implemented.")
        }
    }

    private static func bucketOperation(_ line: S3RequestLine, bucket: String) throws(S3Error) -> S3Operation {
        try rejectUnsupported(line)
        switch line.method {
        case "PUT":
            if line.has("versioning") { throw S3Error(.notImplemented, "Bucket versioning is not implemented.") }
            return .createBucket(bucket: bucket)
        case "HEAD":
            return .headBucket(bucket: bucket)
        case "DELETE":
            return .deleteBucket(bucket: bucket)
        case "GET":
            if line.has("location") { return .getBucketLocation(bucket: bucket) }
            if line.has("versioning") { return .getBucketVersioning(bucket: bucket) }
            if line.has("uploads") { return .listMultipartUploads(bucket: bucket) }
            if let listType = line.parameter("list-type") {
                guard listType == "2" else { throw S3Error(.invalidArgument, "Invalid list-type.") }
                return .listObjectsV2(bucket: bucket)
            }
            return .listObjectsV1(bucket: bucket)
        case "POST":
            if line.has("delete") { return .deleteObjects(bucket: bucket) }
            throw S3Error(.notImplemented, "POST uploads are not implemented.")
        default:
            throw S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.")
        }
    }

    private static func objectOperation(_ line: S3RequestLine, bucket: String, key: String) throws(S3Error) -> S3Operation {
        try rejectUnsupported(line)
        let uploadID = line.parameter("uploadId")
        switch line.method {
        case "PUT":
            if let uploadID {
                let part = try partNumber(line)
                if let source = line.copySource {
                    return .uploadPartCopy(bucket: bucket, key: key, uploadID: uploadID, partNumber: part, source: try CopySource.parse(source))
                }
                return .uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: part)
            }
            if let source = line.copySource {
                return .copyObject(bucket: bucket, key: key, source: try CopySource.parse(source))
            }
            return .putObject(bucket: bucket, key: key)
        case "GET":
            if let uploadID { return .listParts(bucket: bucket, key: key, uploadID: uploadID) }
            return .getObject(bucket: bucket, key: key)
        case "HEAD":
            return .headObject(bucket: bucket, key: key)
        case "DELETE":
            if let uploadID { return .abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
            return .deleteObject(bucket: bucket, key: key)
        case "POST":
            if line.has("uploads") { return .createMultipartUpload(bucket: bucket, key: key) }
            if let uploadID { return .completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
            throw S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.")
        default:
            throw S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.")
        }
    }

    private static func partNumber(_ line: S3RequestLine) throws(S3Error) -> Int {
        guard let text = line.parameter("partNumber"), let number = Int(text), (1...10_000).contains(number) else {
            throw S3Error(.invalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
        }
        return number
    }
}
