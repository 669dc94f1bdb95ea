import Foundation

/// The headers a client sets on an object and gets back on reads.
public struct ObjectAttributes: Sendable, Hashable, Codable {
    public var contentType: String?
    public var cacheControl: String?
    public var contentDisposition: String?
    public var contentEncoding: String?
    public var contentLanguage: String?
    /// The `Expires` header, stored verbatim.
    public var expires: String?
    /// `x-amz-meta-*` pairs, names lowercased and without the prefix.
    public var userMetadata: [String: String]

    /// Creates attributes; everything defaults to absent.
    public init(
        contentType: String? = nil, cacheControl: String? = nil, contentDisposition: String? = nil,
        contentEncoding: String? = nil, contentLanguage: String? = nil, expires: String? = nil,
        userMetadata: [String: String] = [:]
    ) {
        self.contentType = contentType
        self.cacheControl = cacheControl
        self.contentDisposition = contentDisposition
        self.contentEncoding = contentEncoding
        self.contentLanguage = contentLanguage
        self.expires = expires
        self.userMetadata = userMetadata
    }
}

/// A checksum stored with an object: S3 algorithm name (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`,
/// `SHA256`) and its base64 value. For multipart objects the value is the checksum of checksums
/// with a `-N` suffix, as S3 reports it.
public struct StoredChecksum: Sendable, Equatable, Codable {
    public var algorithm: String
    public var value: String
    public init(algorithm: String, value: String) {
        self.algorithm = algorithm
        self.value = value
    }
}

/// One part of a stored object. Objects written by a single PUT have one part.
public struct ObjectPart: Sendable, Equatable, Codable {
    /// Part number (1-based) as uploaded.
    public var number: Int
    /// Size in bytes.
    public var size: Int64
    /// Hex MD5 of the part (no quotes).
    public var etag: String
    /// The part's checksum, when one was sent.
    public var checksum: StoredChecksum?

    public init(number: Int, size: Int64, etag: String, checksum: StoredChecksum? = nil) {
        self.number = number
        self.size = size
        self.etag = etag
        self.checksum = checksum
    }
}

/// How an object came to be: by a client write, or derived by the gateway from a source.
public enum ObjectOrigin: Sendable, Equatable, Codable {
    /// Written by a client (PUT, copy, multipart).
    case client
    /// Derived by the variant engine from the source object with that ETag.
    case derived(sourceETag: String)
}

/// Everything known about one committed object.
public struct ObjectInfo: Sendable, Equatable {
    public var bucket: String
    /// The key; compared and ordered as UTF-8 bytes.
    public var key: String
    public var size: Int64
    /// The ETag without quotes: hex MD5, or `<md5-of-md5s>-<n>` for multipart objects.
    public var etag: String
    public var lastModified: Date
    public var attributes: ObjectAttributes
    /// The whole-object checksum, when the client supplied one.
    public var checksum: StoredChecksum?
    /// Parts in order; their sizes add up to ``size``. A multipart object keeps its part layout
    /// so `partNumber` reads work.
    public var parts: [ObjectPart]
    /// Whether the object came from a multipart upload (its ETag then has a `-N` suffix).
    public var isMultipart: Bool
    public var origin: ObjectOrigin

    public init(
        bucket: String, key: String, size: Int64, etag: String, lastModified: Date,
        attributes: ObjectAttributes, checksum: StoredChecksum?, parts: [ObjectPart],
        isMultipart: Bool, origin: ObjectOrigin
    ) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.attributes = attributes
        self.checksum = checksum
        self.parts = parts
        self.isMultipart = isMultipart
        self.origin = origin
    }
}

/// A bucket as listed.
public struct BucketInfo: Sendable, Equatable {
    public var name: String
    public var creationDate: Date
    public init(name: String, creationDate: Date) {
        self.name = name
        self.creationDate = creationDate
    }
}

/// A condition checked atomically with a write's commit.
public enum WritePrecondition: Sendable, Equatable {
    /// No condition.
    case none
    /// `If-None-Match: *`: only create, never overwrite.
    case ifAbsent
    /// `If-Match: etag`: only overwrite the version with this ETag (unquoted).
    case ifMatch(etag: String)
}

/// What a finished upload body produced; supplied by the caller, which hashed and verified the
/// bytes while they streamed.
public struct UploadDigest: Sendable, Equatable {
    /// Hex MD5 of the bytes (the ETag of a single-part object).
    public var md5Hex: String
    /// The checksum the client asked to be stored, if any.
    public var checksum: StoredChecksum?
    public init(md5Hex: String, checksum: StoredChecksum?) {
        self.md5Hex = md5Hex
        self.checksum = checksum
    }
}
