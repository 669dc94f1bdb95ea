import Foundation
import NIOCore
import Synchronization

/// A complete ``ObjectStore`` in memory, for tests: same contract as the disk store (byte-order
/// keys, atomic preconditions, multipart rules, S3 listing), nothing survives the process.
///
/// Bodies are read into memory before the commit; a reader keeps the bytes of its version.
public final class InMemoryObjectStore: ObjectStore {
    /// Smallest size of a multipart part other than the last.
    public let minimumPartSize: Int64
    let state = Mutex(MemoryState())

    /// Creates an empty store.
    /// - Parameter minimumPartSize: smallest non-last multipart part; tests lower it.
    public init(minimumPartSize: Int64 = Storage.minimumPartSize) {
        self.minimumPartSize = minimumPartSize
    }

    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    public func createBucket(_ name: String) async throws {
        let info = BucketInfo(name: name, creationDate: StorageClock.now())
        try state.withLock { state throws(StorageError) in
            guard state.buckets[Array(name.utf8)] == nil else { throw StorageError(.bucketAlreadyExists, name) }
            state.buckets[Array(name.utf8)] = MemoryBucket(info: info)
        }
    }

    /// Deletes an empty bucket.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``.
    public func deleteBucket(_ name: String) async throws {
        try state.withLock { state throws(StorageError) in
            let id = Array(name.utf8)
            guard let bucket = state.buckets[id] else { throw StorageError(.noSuchBucket, name) }
            guard bucket.objects.isEmpty, !state.uploads.values.contains(where: { $0.bucket == name }) else {
                throw StorageError(.bucketNotEmpty, name)
            }
            state.buckets[id] = nil
        }
    }

    /// The bucket, or nil.
    public func bucket(_ name: String) async throws -> BucketInfo? {
        state.withLock { $0.buckets[Array(name.utf8)]?.info }
    }

    /// All buckets by name (bytes).
    public func listBuckets() async throws -> [BucketInfo] {
        state.withLock { state in
            state.buckets.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value.info)
        }
    }

    // MARK: Objects

    /// Reads the body into memory, calls `finish()`, then commits atomically with `precondition`.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``, or
    ///   what the body throws (the previous version is then untouched).
    public func putObject(
        bucket: String, key: String, attributes: ObjectAttributes, precondition: WritePrecondition,
        origin: ObjectOrigin, body: UploadBody
    ) async throws -> ObjectInfo {
        _ = try state.withLock { state throws(StorageError) in try state.bucket(bucket) }
        let (bytes, digest) = try await body.gathered()
        let info = ObjectInfo(
            bucket: bucket, key: key, size: Int64(bytes.readableBytes), etag: digest.md5Hex,
            lastModified: StorageClock.now(), attributes: attributes, checksum: digest.checksum,
            parts: [ObjectPart(number: 1, size: Int64(bytes.readableBytes), etag: digest.md5Hex, checksum: digest.checksum)],
            isMultipart: false, origin: origin
        )
        try state.withLock { state throws(StorageError) in
            try state.commit(MemoryObject(info: info, bytes: bytes), precondition: precondition)
        }
        return info
    }

    /// Opens the current version; the reader keeps its bytes.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/noSuchKey``.
    public func openObject(bucket: String, key: String) async throws -> any ObjectReader {
        let object = try state.withLock { state throws(StorageError) in
            try state.bucket(bucket).objects[Array(key.utf8)]
        }
        guard let object else { throw StorageError(.noSuchKey, key) }
        return BufferedObjectReader(info: object.info, bytes: object.bytes)
    }

    /// The current version's info, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func headObject(bucket: String, key: String) async throws -> ObjectInfo? {
        try state.withLock { state throws(StorageError) in
            try state.bucket(bucket).objects[Array(key.utf8)]?.info
        }
    }

    /// Deletes the current version, if any.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    @discardableResult
    public func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectInfo? {
        try state.withLock { state throws(StorageError) in
            try state.modifyBucket(bucket) { objects throws(StorageError) in
                if precondition != .none {
                    try precondition.check(currentETag: objects.objects[Array(key.utf8)]?.info.etag, key: key)
                }
                return objects.remove(Array(key.utf8))?.info
            }
        }
    }

    /// Lists keys in byte order (``ListingMachine``); listed infos have empty `parts`.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listObjects(bucket: String, query: ListQuery) async throws -> ListPage {
        let snapshot = try state.withLock { state throws(StorageError) in try state.bucket(bucket) }
        var machine = ListingMachine(query: query)
        while let window = machine.nextWindow {
            var rows: [ObjectInfo] = []
            var index = snapshot.firstIndex(from: window.start)
            while index < snapshot.sortedKeys.count, rows.count < window.limit {
                let key = snapshot.sortedKeys[index]
                guard KeyBytes.admits(window, key: key, tiebreak: nil) else { break }
                if var info = snapshot.objects[key]?.info {
                    info.parts = []
                    rows.append(info)
                }
                index += 1
            }
            machine.consume(rows)
        }
        return machine.page
    }
}

/// A version of an in-memory object, kept by its reader.
struct MemoryObject {
    var info: ObjectInfo
    var bytes: ByteBuffer
}

struct MemoryBucket {
    var info: BucketInfo
    var objects: [[UInt8]: MemoryObject] = [:]
    /// The keys of `objects`, in byte order.
    var sortedKeys: [[UInt8]] = []

    /// The index of the first key at or after `key`.
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0
        var high = sortedKeys.count
        while low < high {
            let mid = (low + high) / 2
            if sortedKeys[mid].lexicographicallyPrecedes(key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func firstIndex(from cursor: ListCursor) -> Int {
        switch cursor {
        case .atOrAfter(let key):
            return lowerBound(key)
        case .after(let key, _):
            let index = lowerBound(key)
            return index < sortedKeys.count && sortedKeys[index] == key ? index + 1 : index
        }
    }

    mutating func put(_ object: MemoryObject) {
        let key = Array(object.info.key.utf8)
        if objects.updateValue(object, forKey: key) == nil {
            sortedKeys.insert(key, at: lowerBound(key))
        }
    }

    mutating func remove(_ key: [UInt8]) -> MemoryObject? {
        guard let removed = objects.removeValue(forKey: key) else { return nil }
        sortedKeys.remove(at: lowerBound(key))
        return removed
    }
}

struct MemoryUpload {
    var bucket: String
    var info: UploadInfo
    var parts: [Int: MemoryPart] = [:]
}

struct MemoryPart {
    var part: ObjectPart
    var bytes: ByteBuffer
}

struct MemoryState {
    var buckets: [[UInt8]: MemoryBucket] = [:]
    var uploads: [String: MemoryUpload] = [:]

    func bucket(_ name: String) throws(StorageError) -> MemoryBucket {
        guard let bucket = buckets[Array(name.utf8)] else { throw StorageError(.noSuchBucket, name) }
        return bucket
    }

    func upload(_ id: String, bucket: String, key: String) throws(StorageError) -> MemoryUpload {
        guard let upload = uploads[id], upload.bucket == bucket, upload.info.key.utf8.elementsEqual(key.utf8)
        else { throw StorageError(.noSuchUpload, id) }
        return upload
    }

    /// Runs `body` on the bucket in place (without copying its dictionary).
    mutating func modifyBucket<Result>(
        _ name: String, _ body: (inout MemoryBucket) throws(StorageError) -> Result
    ) throws(StorageError) -> Result {
        let id = Array(name.utf8)
        guard var entry = buckets.removeValue(forKey: id) else { throw StorageError(.noSuchBucket, name) }
        defer { buckets[id] = entry }
        return try body(&entry)
    }

    /// Replaces the current version if `precondition` holds.
    mutating func commit(_ object: MemoryObject, precondition: WritePrecondition) throws(StorageError) {
        try modifyBucket(object.info.bucket) { entry throws(StorageError) in
            let current = entry.objects[Array(object.info.key.utf8)]
            try precondition.check(currentETag: current?.info.etag, key: object.info.key)
            entry.put(object)
        }
    }
}
