import Foundation
import NIOCore

/// Where object bytes and their metadata live: local disk, memory, or an upstream S3 store.
///
/// Contract, shared by every implementation and checked by one test suite:
/// - Keys are compared as UTF-8 bytes and listed in UTF-8 byte order. A key is only a name:
///   no key can reach a file outside the store's own directories.
/// - A write is all or nothing: until ``putObject(bucket:key:attributes:precondition:body:)``
///   returns, readers see the previous version; a failed write leaves the previous version intact.
/// - A returned ``ObjectReader`` reads exactly the version it describes, even if the object is
///   overwritten or deleted while it streams (or the read fails; it never mixes versions).
/// - Strong consistency: a committed write is visible to the next read and list.
public protocol ObjectStore: Sendable {
    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    func createBucket(_ name: String) async throws
    /// Deletes an empty bucket.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``
    ///   (objects or multipart uploads in progress).
    func deleteBucket(_ name: String) async throws
    /// The bucket, or nil when it does not exist.
    func bucket(_ name: String) async throws -> BucketInfo?
    /// All buckets, by name.
    func listBuckets() async throws -> [BucketInfo]

    // MARK: Objects

    /// Stores an object from a streamed body, replacing any previous version atomically.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``
    ///   (checked atomically with the commit), ``StorageError/Code/noSuchKey`` for `ifMatch` on
    ///   a missing key, or whatever the body throws.
    func putObject(
        bucket: String, key: String, attributes: ObjectAttributes, precondition: WritePrecondition,
        origin: ObjectOrigin, body: UploadBody
    ) async throws -> ObjectInfo

    /// Opens the current version of an object for reading.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/noSuchKey``.
    func openObject(bucket: String, key: String) async throws -> any ObjectReader

    /// Metadata of the current version, or nil when there is none.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func headObject(bucket: String, key: String) async throws -> ObjectInfo?

    /// Opens `key` (nil when it is missing) and gives the info of `other` (nil when missing), as
    /// read together: a cached variant is served after checking its source, and a store may
    /// do both in one lookup. The default calls ``openObject(bucket:key:)`` and
    /// ``headObject(bucket:key:)``.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func openObject(bucket: String, key: String, withInfoOf other: String) async throws -> (reader: (any ObjectReader)?, other: ObjectInfo?)

    /// Deletes an object; deleting a missing key succeeds (S3 semantics).
    /// Returns the deleted version's info, if there was one.
    /// - Parameter precondition: checked atomically with the delete (`.ifMatch`: only that
    ///   version; `.ifAbsent` is meaningless here and fails when the key exists).
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``.
    @discardableResult
    func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectInfo?

    /// Lists keys in UTF-8 byte order.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func listObjects(bucket: String, query: ListQuery) async throws -> ListPage

    // MARK: Multipart

    /// Starts a multipart upload and returns its id.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func createMultipartUpload(
        bucket: String, key: String, attributes: ObjectAttributes, checksumAlgorithm: String?
    ) async throws -> String

    /// Stores one part (1...10000), replacing an earlier part with the same number.
    /// - Throws: ``StorageError/Code/noSuchUpload`` or what the body throws.
    func uploadPart(
        bucket: String, key: String, uploadID: String, partNumber: Int, body: UploadBody
    ) async throws -> ObjectPart

    /// Assembles the named parts into the object, atomically with the precondition.
    /// Every part but the last must be at least ``minimumPartSize`` bytes.
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart``,
    ///   ``StorageError/Code/invalidPartOrder``, ``StorageError/Code/entityTooSmall``,
    ///   ``StorageError/Code/preconditionFailed``.
    func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        precondition: WritePrecondition
    ) async throws -> ObjectInfo

    /// Abandons an upload and frees its parts.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws

    /// Parts uploaded so far, ascending, after `partNumberMarker`, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage

    /// Uploads in progress, ordered by key (bytes) then initiation time.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func listMultipartUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage
}

/// The smallest size of a multipart part other than the last (S3: 5 MiB).
public let minimumPartSize: Int64 = 5 * 1024 * 1024

/// An open version of an object.
public protocol ObjectReader: Sendable {
    /// The version being read.
    var info: ObjectInfo { get }
    /// Streams `range` (half-open, within `0..<info.size`), or the whole object when nil.
    /// - Throws: ``StorageError/Code/invalidRange`` for a range outside the object.
    func read(range: Range<Int64>?) -> ByteStream
}

/// A reader on bytes held in memory: the in-memory store's objects and the inline data of a
/// disk store's small objects (``ObjectRecord/inlineData``).
public struct BufferedObjectReader: ObjectReader {
    public let info: ObjectInfo
    /// The whole object (`info.size` readable bytes).
    public let bytes: ByteBuffer

    public init(info: ObjectInfo, bytes: ByteBuffer) {
        self.info = info
        self.bytes = bytes
    }

    public func read(range: Range<Int64>?) -> ByteStream {
        do {
            let resolved = try ReadRange.resolve(range, size: info.size)
            let slice = bytes.getSlice(at: bytes.readerIndex + Int(resolved.lowerBound), length: resolved.count)
            return .slices(of: slice ?? ByteBuffer())
        } catch {
            return .failing(error)
        }
    }
}

/// A part named in a CompleteMultipartUpload request.
public struct CompletedPart: Sendable, Equatable {
    public var number: Int
    /// Unquoted ETag as the client sent it.
    public var etag: String
    public init(number: Int, etag: String) {
        self.number = number
        self.etag = etag
    }
}

/// Parameters of a listing.
public struct ListQuery: Sendable, Equatable {
    public var prefix: String
    /// Groups keys up to and including the first delimiter after the prefix.
    public var delimiter: String?
    /// Lists keys strictly after this one (bytes); also skips common prefixes not after it.
    public var startAfter: String?
    public var maxKeys: Int
    public init(prefix: String = "", delimiter: String? = nil, startAfter: String? = nil, maxKeys: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.startAfter = startAfter
        self.maxKeys = maxKeys
    }
}

/// One page of a listing. Objects and common prefixes together number at most `maxKeys`.
public struct ListPage: Sendable, Equatable {
    public var objects: [ObjectInfo]
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    /// The last key or common prefix returned; where the next page starts after.
    public var nextMarker: String?
    public init(objects: [ObjectInfo], commonPrefixes: [String], isTruncated: Bool, nextMarker: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.isTruncated = isTruncated
        self.nextMarker = nextMarker
    }
}

/// A multipart upload in progress.
public struct UploadInfo: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    public var initiated: Date
    public var attributes: ObjectAttributes
    public var checksumAlgorithm: String?
    public init(key: String, uploadID: String, initiated: Date, attributes: ObjectAttributes, checksumAlgorithm: String?) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
        self.attributes = attributes
        self.checksumAlgorithm = checksumAlgorithm
    }
}

/// One page of ListParts.
public struct PartsPage: Sendable, Equatable {
    public var upload: UploadInfo
    public var parts: [ObjectPart]
    public var isTruncated: Bool
    public var nextPartNumberMarker: Int?
    public init(upload: UploadInfo, parts: [ObjectPart], isTruncated: Bool, nextPartNumberMarker: Int?) {
        self.upload = upload
        self.parts = parts
        self.isTruncated = isTruncated
        self.nextPartNumberMarker = nextPartNumberMarker
    }
}

/// Parameters of ListMultipartUploads.
public struct UploadsQuery: Sendable, Equatable {
    public var prefix: String
    public var delimiter: String?
    public var keyMarker: String?
    public var uploadIDMarker: String?
    public var maxUploads: Int
    public init(prefix: String = "", delimiter: String? = nil, keyMarker: String? = nil, uploadIDMarker: String? = nil, maxUploads: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.keyMarker = keyMarker
        self.uploadIDMarker = uploadIDMarker
        self.maxUploads = maxUploads
    }
}

/// One page of ListMultipartUploads.
public struct UploadsPage: Sendable, Equatable {
    public var uploads: [UploadInfo]
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    public var nextKeyMarker: String?
    public var nextUploadIDMarker: String?
    public init(uploads: [UploadInfo], commonPrefixes: [String], isTruncated: Bool, nextKeyMarker: String?, nextUploadIDMarker: String?) {
        self.uploads = uploads
        self.commonPrefixes = commonPrefixes
        self.isTruncated = isTruncated
        self.nextKeyMarker = nextKeyMarker
        self.nextUploadIDMarker = nextUploadIDMarker
    }
}

extension ObjectStore {
    public func openObject(bucket: String, key: String, withInfoOf other: String) async throws -> (reader: (any ObjectReader)?, other: ObjectInfo?) {
        (try await openObjectIfPresent(bucket: bucket, key: key), try await headObject(bucket: bucket, key: other))
    }

    /// Opens the current version, or nil when the key is missing.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func openObjectIfPresent(bucket: String, key: String) async throws -> (any ObjectReader)? {
        do {
            return try await openObject(bucket: bucket, key: key)
        } catch let error as StorageError where error.code == .noSuchKey {
            return nil
        }
    }

    /// Deletes an object whatever its version.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    @discardableResult
    public func deleteObject(bucket: String, key: String) async throws -> ObjectInfo? {
        try await deleteObject(bucket: bucket, key: key, precondition: .none)
    }
}
