import Foundation
import NIOCore
import Synchronization

/// The metadata seam of a byte store that keeps object bytes in blobs: buckets, committed
/// objects with the blobs that hold their parts, and multipart uploads with their parts.
///
/// SQLite implements it today and PostgreSQL later, so every method maps onto one SQL
/// transaction and the types are plain values.
///
/// Contract, shared by every implementation:
/// - Keys are stored and compared as UTF-8 bytes (`BLOB` in SQLite, `bytea` in PostgreSQL), never
///   as text: precomposed and decomposed "é" are two keys, and listings are in byte order.
/// - Each write method is one transaction; preconditions are checked inside it.
/// - The index never touches blobs. Methods that drop references return the dropped blob ids; the
///   caller deletes those blobs after the transaction committed.
/// - Listings are done in the index (``ListingMachine``), with a skip-scan past each common
///   prefix, and their ``ObjectInfo/parts`` are empty (use ``object(bucket:key:)`` for the
///   layout).
/// - Upload ids sort in initiation order (``UploadID``); uploads are listed by key, then id.
/// - Errors are ``StorageError``s; anything else is wrapped as ``StorageError/Code/internalError``.
/// - A record's ``ObjectRecord/inlineData`` (a small object's bytes) is stored with it and read
///   back with it; its blob id names no file and is never returned as freed.
public protocol ObjectIndex: Sendable {
    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    func createBucket(_ name: String, creationDate: Date) async throws
    /// Deletes a bucket that has no objects and no uploads.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``.
    func deleteBucket(_ name: String) async throws
    /// The bucket, or nil.
    /// - Throws: ``StorageError/Code/internalError``.
    func bucket(_ name: String) async throws -> BucketInfo?
    /// All buckets ordered by name (bytes).
    /// - Throws: ``StorageError/Code/internalError``.
    func listBuckets() async throws -> [BucketInfo]

    // MARK: Objects

    /// The current record of a key, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func object(bucket: String, key: String) async throws -> ObjectRecord?

    /// The current records of two keys, read together (nil where missing). The default reads
    /// them one after the other.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func objects(bucket: String, _ first: String, _ second: String) async throws -> (ObjectRecord?, ObjectRecord?)
    /// Makes `record` the current version of its key if `precondition` holds against the current
    /// version, in one transaction.
    /// - Returns: the blobs of the replaced version (empty when there was none).
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``.
    func commitObject(_ record: ObjectRecord, precondition: WritePrecondition) async throws -> [BlobID]
    /// Removes the current version of a key, if `precondition` holds.
    /// - Returns: the removed record (its blobs are now unreferenced), or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectRecord?
    /// One page of keys in byte order; see ``ObjectStore/listObjects(bucket:query:)``.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func listObjects(bucket: String, query: ListQuery) async throws -> ListPage

    // MARK: Multipart uploads

    /// Records a new upload.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func createUpload(bucket: String, upload: UploadInfo) async throws
    /// The upload with this id if it belongs to `bucket` and `key`, else nil.
    /// - Throws: ``StorageError/Code/internalError``.
    func upload(bucket: String, key: String, uploadID: String) async throws -> UploadInfo?
    /// Records a part, replacing the part with the same number.
    /// - Returns: the blob of the replaced part, if any.
    /// - Throws: ``StorageError/Code/noSuchUpload`` (also when the upload completed or was
    ///   aborted meanwhile: the caller then deletes `part.blob`).
    func putPart(bucket: String, key: String, uploadID: String, part: PartRecord) async throws -> BlobID?
    /// Turns the named parts into the current version of the key and ends the upload, in one
    /// transaction: validation (``MultipartCompletion``), precondition, commit. On any error
    /// nothing changes and the upload stays.
    /// - Returns: the committed record and every blob no longer referenced (the replaced
    ///   version's and the parts not named).
    /// - Throws: ``StorageError/Code/noSuchUpload``, ``StorageError/Code/invalidPart``,
    ///   ``StorageError/Code/invalidPartOrder``, ``StorageError/Code/entityTooSmall``,
    ///   ``StorageError/Code/preconditionFailed``.
    func completeUpload(
        bucket: String, key: String, uploadID: String, parts: [CompletedPart],
        options: CompletionOptions
    ) async throws -> CompletionOutcome
    /// Ends an upload without an object.
    /// - Returns: the blobs of its parts.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    func abortUpload(bucket: String, key: String, uploadID: String) async throws -> [BlobID]
    /// Parts after `partNumberMarker`, ascending, at most `maxParts`.
    /// - Throws: ``StorageError/Code/noSuchUpload``.
    func listParts(
        bucket: String, key: String, uploadID: String, partNumberMarker: Int, maxParts: Int
    ) async throws -> PartsPage
    /// Uploads in progress; see ``ObjectStore/listMultipartUploads(bucket:query:)``.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    func listUploads(bucket: String, query: UploadsQuery) async throws -> UploadsPage

    // MARK: Recovery

    /// Which of `ids` an object or an upload part still references as a blob file. The id of a
    /// part whose bytes the index keeps (``ObjectRecord/inlineData``) names no file and is not
    /// reported.
    /// - Throws: ``StorageError/Code/internalError``.
    func referencedBlobs(among ids: [BlobID]) async throws -> Set<BlobID>

}

/// A committed object: its info and the blobs holding its parts.
public struct ObjectRecord: Sendable, Equatable {
    /// The object's metadata; `info.parts` lists the parts in order.
    public var info: ObjectInfo
    /// One blob per element of `info.parts`, in the same order.
    public var blobs: [BlobID]
    /// The object's bytes when the index keeps them itself (a small single-part object). Its
    /// one blob id then names no file: it is never returned as freed, and nothing is written or
    /// deleted for it.
    public var inlineData: ByteBuffer?

    /// The blobs of this record that are files: all of ``blobs``, or none when the bytes are
    /// ``inlineData``.
    public var blobFiles: [BlobID] { inlineData == nil ? blobs : [] }

    /// Creates a record.
    /// - Important: `blobs.count == info.parts.count`, and a record with `inlineData` has one
    ///   part of exactly that size (checked by preconditions).
    public init(info: ObjectInfo, blobs: [BlobID], inlineData: ByteBuffer? = nil) {
        precondition(blobs.count == info.parts.count, "one blob per part")
        if let inlineData {
            precondition(info.parts.count == 1 && info.size == Int64(inlineData.readableBytes), "inline data is one whole part")
        }
        self.info = info
        self.blobs = blobs
        self.inlineData = inlineData
    }
}

/// An uploaded part of a multipart upload and the blob holding its bytes.
public struct PartRecord: Sendable, Equatable {
    /// The part as listed.
    public var part: ObjectPart
    /// Where its bytes are.
    public var blob: BlobID

    /// Creates a part record.
    public init(part: ObjectPart, blob: BlobID) {
        self.part = part
        self.blob = blob
    }
}

/// Settings of a multipart completion that the store, not the index, decides.
public struct CompletionOptions: Sendable, Equatable {
    /// Smallest size of every part but the last.
    public var minimumPartSize: Int64
    /// The new version's last-modified time (whole milliseconds, see ``StorageClock``).
    public var lastModified: Date
    /// Checked against the current version inside the transaction.
    public var precondition: WritePrecondition

    /// Creates completion options.
    public init(minimumPartSize: Int64, lastModified: Date, precondition: WritePrecondition) {
        self.minimumPartSize = minimumPartSize
        self.lastModified = lastModified
        self.precondition = precondition
    }
}

/// What a completed multipart upload committed and freed.
public struct CompletionOutcome: Sendable, Equatable {
    /// The new current version.
    public var record: ObjectRecord
    /// Blobs no longer referenced: the replaced version's and unused parts'.
    public var freedBlobs: [BlobID]

    /// Creates an outcome.
    public init(record: ObjectRecord, freedBlobs: [BlobID]) {
        self.record = record
        self.freedBlobs = freedBlobs
    }
}

extension ObjectIndex {
    public func objects(bucket: String, _ first: String, _ second: String) async throws -> (ObjectRecord?, ObjectRecord?) {
        (try await object(bucket: bucket, key: first), try await object(bucket: bucket, key: second))
    }
}

/// How every ``ObjectIndex`` implementation writes and reads the values it stores as text.
public enum IndexText {
    /// A blob id read back from an index.
    /// - Throws: ``StorageError/Code/internalError`` for text that is not a blob id.
    public static func blobID(_ text: String) throws -> BlobID {
        guard let id = BlobID(text) else { throw StorageError(.internalError, "malformed blob id in index: \(text)") }
        return id
    }

    /// Attributes as JSON with sorted keys (stable text for equal attributes). Recent encodings
    /// are remembered, as decodings are: a `JSONEncoder` per PUT was 2.7% of the server's CPU in
    /// a 4 KiB PUT run, on the SQLite writer's thread (bench/PROFILE.md).
    /// - Throws: encoding errors.
    public static func encodeAttributes(_ attributes: ObjectAttributes) throws -> String {
        try encoded.value(for: attributes) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(attributes), as: UTF8.self)
        }
    }

    /// Attributes from ``encodeAttributes(_:)``'s JSON. Most objects share a handful of
    /// attribute texts (a content type, no metadata), so recent decodings are remembered:
    /// a listing of 1000 keys decodes a few texts, not 1000 (see bench/PROFILE.md).
    /// - Throws: decoding errors.
    public static func decodeAttributes(_ json: String) throws -> ObjectAttributes {
        try decoded.value(for: json) { try JSONDecoder().decode(ObjectAttributes.self, from: Data(json.utf8)) }
    }

    /// How many attribute texts ``decodeAttributes(_:)`` and ``encodeAttributes(_:)`` each
    /// remember before starting over.
    static let decodedLimit = 512
    private static let decoded = RecentValues<String, ObjectAttributes>(limit: decodedLimit)
    private static let encoded = RecentValues<ObjectAttributes, String>(limit: decodedLimit)
}

/// Values made from keys, remembered up to `limit` keys and then forgotten all at once (the
/// texts they serve are few; an LRU would cost more than it saves).
final class RecentValues<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let limit: Int
    private let memory = Mutex<[Key: Value]>([:])

    init(limit: Int) { self.limit = limit }

    /// The remembered value of `key`, or `make()`'s, then remembered. `make` runs unlocked.
    func value(for key: Key, orMake make: () throws -> Value) rethrows -> Value {
        if let known = memory.withLock({ $0[key] }) { return known }
        let value = try make()
        memory.withLock { memory in
            if memory.count >= limit { memory.removeAll(keepingCapacity: true) }
            memory[key] = value
        }
        return value
    }
}
