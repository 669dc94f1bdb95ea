import Foundation
import NIOCore
import Storage
import _NIOFileSystem

/// An ``ObjectStore`` on local disk: bytes in immutable blob files named by random ids, metadata
/// in an ``ObjectIndex`` (SQLite).
///
/// A small object (a declared length of at most ``inlineLimit``) is kept in its index record
/// instead (``ObjectRecord/inlineData``): its PUT is one index transaction, without a file, its fsync and its directory's fsync, and
/// its GET reads no file. MinIO keeps objects up to 128 KiB in its metadata file for the same
/// reason. (SQLite's "Internal Versus External BLOBs" measurements find small blobs read faster
/// from the database than from files of their own, with a crossover that depends on the page
/// size; the gain measured here is mostly on writes: bench/PROFILE.md.)
///
/// A write streams into `<root>/tmp/<id>`, is verified (`body.finish()`), fsynced, renamed to
/// `<root>/blobs/<2 hex>/<id>` and its directory fsynced; then one index transaction commits it
/// with its precondition; then the replaced version's blobs are deleted (or, while a reader still
/// streams them, when that reader is done). Multipart parts are blobs too, and completing an
/// upload only writes the index. Keys never become paths.
///
/// - Important: one process per root: ``init(root:index:minimumPartSize:)`` deletes files of
///   writes in flight.
public final class DiskObjectStore: ObjectStore, ImmediateObjectReads, ImmediateObjectWrites {
    /// Smallest size of a multipart part other than the last.
    public let minimumPartSize: Int64
    /// Largest declared length kept in the index record (0: every object in a blob file).
    public let inlineLimit: Int64
    /// What ``init(root:index:minimumPartSize:)`` cleaned up.
    public let recovery: RecoveryReport
    /// The metadata index.
    public let index: any ObjectIndex
    /// ``index`` when it reads on the calling thread (looked up once, not on every GET).
    private let immediateIndex: (any ImmediateObjectIndex)?
    /// ``index`` when it commits without suspending its caller.
    private let immediateCommits: (any ImmediateObjectCommits)?
    let files: BlobFiles
    let leases = BlobLeases()

    private init(files: BlobFiles, index: any ObjectIndex, minimumPartSize: Int64, inlineLimit: Int64, recovery: RecoveryReport) {
        self.files = files
        self.index = index
        self.immediateIndex = index as? any ImmediateObjectIndex
        self.immediateCommits = index as? any ImmediateObjectCommits
        self.minimumPartSize = minimumPartSize
        self.inlineLimit = inlineLimit
        self.recovery = recovery
    }

    /// The default ``inlineLimit``: 128 KiB.
    public static let defaultInlineLimit: Int64 = 128 << 10

    /// Opens the store at `root`, creating its directories, and recovers from a crash: removes
    /// everything in `tmp/` and every blob that neither an object nor an upload part references
    /// (see ``recovery``).
    /// - Parameters:
    ///   - root: the directory of blobs and temp files (for example `<data-dir>/objects`).
    ///   - index: where metadata lives; it must not be used by another store at the same time.
    ///   - minimumPartSize: smallest non-last multipart part; tests lower it.
    ///   - inlineLimit: largest object kept in its index record; 0 keeps every object in a
    ///     blob file.
    /// - Throws: `FileSystemError` when the directories cannot be created or listed,
    ///   ``StorageError/Code/internalError`` from the index.
    public convenience init(
        root: String, index: any ObjectIndex, minimumPartSize: Int64 = Storage.minimumPartSize,
        inlineLimit: Int64 = DiskObjectStore.defaultInlineLimit
    ) async throws {
        let files = BlobFiles(root: FilePath(root), fileSystem: .shared)
        try await files.prepare()
        let recovery = try await Recovery(files: files, index: index).run()
        self.init(files: files, index: index, minimumPartSize: minimumPartSize, inlineLimit: inlineLimit, recovery: recovery)
    }

    // MARK: Buckets

    /// Creates a bucket.
    /// - Throws: ``StorageError/Code/bucketAlreadyExists``.
    public func createBucket(_ name: String) async throws {
        try await index.createBucket(name, creationDate: StorageClock.now())
    }

    /// Deletes an empty bucket.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/bucketNotEmpty``.
    public func deleteBucket(_ name: String) async throws { try await index.deleteBucket(name) }

    /// The bucket, or nil.
    /// - Throws: ``StorageError/Code/internalError``.
    public func bucket(_ name: String) async throws -> BucketInfo? { try await index.bucket(name) }

    /// All buckets by name.
    /// - Throws: ``StorageError/Code/internalError``.
    public func listBuckets() async throws -> [BucketInfo] { try await index.listBuckets() }

    // MARK: Objects

    /// Streams the body into a new blob (or, for a small object, gathers it for the index
    /// record), then commits it atomically with `precondition`.
    ///
    /// The bucket and the precondition are also checked before the body is read, so a doomed
    /// upload fails without being received.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/preconditionFailed``,
    ///   what the body throws, or file system errors; on any error nothing of this upload remains
    ///   and the previous version is untouched.
    public func putObject(
        bucket: String, key: String, attributes: ObjectAttributes, precondition: WritePrecondition,
        origin: ObjectOrigin, body: UploadBody
    ) async throws -> ObjectInfo {
        if precondition == .none {
            guard try await index.bucket(bucket) != nil else { throw StorageError(.noSuchBucket, bucket) }
        } else {
            let current = try await index.object(bucket: bucket, key: key)
            try precondition.check(currentETag: current?.info.etag, key: key)
        }
        let (id, size, digest, inlineData): (BlobID, Int64, UploadDigest, ByteBuffer?)
        if inlineLimit > 0, let length = body.facts.length, length <= inlineLimit {
            // finish() has checked the declared length, so the bytes fit the limit.
            let (bytes, verified) = try await body.gathered()
            (id, size, digest, inlineData) = (.random(), Int64(bytes.readableBytes), verified, bytes)
        } else {
            let blob = try await files.write(body)
            (id, size, digest, inlineData) = (blob.id, blob.size, blob.digest, nil)
        }
        let record = Self.singlePartRecord(
            bucket: bucket, key: key, attributes: attributes, origin: origin, blob: id, size: size, digest: digest,
            inlineData: inlineData)
        let index = self.index
        return try await commit(newBlobs: record.blobFiles) {
            (record.info, try await index.commitObject(record, precondition: precondition))
        }
    }

    /// Commits a small object whose bytes are at hand and verified (``ImmediateObjectWrites``):
    /// the record `putObject` makes for it, through the index's group commit. The bucket is
    /// checked in the transaction.
    public func putInlineNow(
        bucket: String, key: String, attributes: ObjectAttributes, origin: ObjectOrigin, bytes: ByteBuffer,
        digest: UploadDigest, mayRunHere: Bool, done: @escaping @Sendable (Result<ObjectInfo, any Error>) -> Void
    ) -> Bool {
        guard let immediateCommits, inlineLimit > 0, Int64(bytes.readableBytes) <= inlineLimit else { return false }
        let record = Self.singlePartRecord(
            bucket: bucket, key: key, attributes: attributes, origin: origin, blob: .random(),
            size: Int64(bytes.readableBytes), digest: digest, inlineData: bytes)
        let (files, leases) = (self.files, self.leases)
        immediateCommits.commitObject(record, precondition: .none, mayRunHere: mayRunHere) { outcome in
            switch outcome {
            case .success(let freed) where freed.isEmpty:
                done(.success(record.info))
            case .success(let freed):
                // As `commit` does: the replaced version's files go before the answer.
                Task {
                    await files.remove(leases.retire(freed))
                    done(.success(record.info))
                }
            case .failure(let error):
                done(.failure(error))
            }
        }
        return true
    }

    /// The record of a new single-part object, stamped now.
    private static func singlePartRecord(
        bucket: String, key: String, attributes: ObjectAttributes, origin: ObjectOrigin, blob: BlobID, size: Int64,
        digest: UploadDigest, inlineData: ByteBuffer?
    ) -> ObjectRecord {
        let part = ObjectPart(number: 1, size: size, etag: digest.md5Hex, checksum: digest.checksum)
        let info = ObjectInfo(
            bucket: bucket, key: key, size: size, etag: digest.md5Hex, lastModified: StorageClock.now(),
            attributes: attributes, checksum: digest.checksum, parts: [part], isMultipart: false, origin: origin
        )
        return ObjectRecord(info: info, blobs: [blob], inlineData: inlineData)
    }

    /// Opens the current version; the reader keeps streaming that version whatever happens to
    /// the key afterwards.
    /// - Throws: ``StorageError/Code/noSuchBucket``, ``StorageError/Code/noSuchKey``,
    ///   ``StorageError/Code/internalError`` if the key kept changing under 16 attempts.
    public func openObject(bucket: String, key: String) async throws -> any ObjectReader {
        let retirements = leases.retirements
        guard let record = try await index.object(bucket: bucket, key: key) else {
            throw StorageError(.noSuchKey, key)
        }
        return try await open(record, bucket: bucket, key: key, retirements: retirements)
    }

    /// The object's info, with its bytes from its record, or, for
    /// ``ImmediateBytesWanted/keptOrFile``, from its one blob, opened here
    /// (``ImmediateObjectReads``). Blobs not all in the page cache are left to the regular path:
    /// sending one from the caller's thread (an event loop) would wait for the disk. So are
    /// blobs of at least ``BlobFileWriter/directThreshold`` bytes, written around the page
    /// cache.
    ///
    /// No lease is taken: a blob is never written again once it is in place, and a blob
    /// deleted after this read leaves the open descriptor reading it. A blob deleted before it
    /// was opened (its version replaced meanwhile) makes this nil, and so does a blob whose
    /// length is not the object's: the regular path then reads again, and reports the damage.
    public func objectNow(bucket: String, key: String, bytes wanted: ImmediateBytesWanted) -> (info: ObjectInfo, bytes: ImmediateBytes?)? {
        guard let record = try? immediateIndex?.objectNow(bucket: bucket, key: key) else { return nil }
        return handOver(record, wanted)
    }

    /// ``objectNow(bucket:key:bytes:)`` of `key` and `other`'s info, in one index read
    /// (``ImmediateObjectReads``).
    public func objectNow(bucket: String, key: String, withInfoOf other: String, bytes wanted: ImmediateBytesWanted)
        -> (object: (info: ObjectInfo, bytes: ImmediateBytes?)?, other: ObjectInfo?)?
    {
        guard let (record, otherRecord) = try? immediateIndex?.objectsNow(bucket: bucket, key, other) else { return nil }
        return (record.flatMap { handOver($0, wanted) }, otherRecord?.info)
    }

    /// A record's info and the bytes `wanted`: none, kept in it, or its one blob opened (see
    /// ``objectNow(bucket:key:bytes:)``); nil when the record does not qualify.
    private func handOver(_ record: ObjectRecord, _ wanted: ImmediateBytesWanted) -> (info: ObjectInfo, bytes: ImmediateBytes?)? {
        if wanted == .none { return (record.info, nil) }
        if let bytes = record.inlineData { return (record.info, .inline(bytes)) }
        let size = record.info.size
        guard wanted == .keptOrFile, record.blobs.count == 1, record.info.parts.count == 1, size > 0,
              size < BlobFileWriter.directThreshold,
              let file = files.openNow(record.blobs[0], size: size)
        else { return nil }
        return (record.info, .file(file, size: size))
    }

    /// `body` with its reads through the index in one snapshot (``ImmediateObjectReads``).
    public func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T {
        guard let immediateIndex else { return try body() }
        return try immediateIndex.inOneSnapshot(body)
    }

    /// Opens `key` and reads `other`'s record in one index lookup (a cached variant and its
    /// source: ``ObjectIndex/objects(bucket:_:_:)``).
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func openObject(bucket: String, key: String, withInfoOf other: String) async throws -> (reader: (any ObjectReader)?, other: ObjectInfo?) {
        let retirements = leases.retirements
        let (record, otherRecord) = try await index.objects(bucket: bucket, key, other)
        guard let record else { return (nil, otherRecord?.info) }
        do {
            return (try await open(record, bucket: bucket, key: key, retirements: retirements), otherRecord?.info)
        } catch let error as StorageError where error.code == .noSuchKey {
            return (nil, otherRecord?.info)
        }
    }

    /// A reader on `record`, read after `retirements` was noted, leased; read again while blobs
    /// are being retired.
    private func open(_ record: ObjectRecord, bucket: String, key: String, retirements: UInt64) async throws -> any ObjectReader {
        // Bytes kept in the record need no file, so no lease.
        if let bytes = record.inlineData { return BufferedObjectReader(info: record.info, bytes: bytes) }
        var record = record
        var retirements = retirements
        for _ in 0..<16 {
            let lease = BlobLease(ids: record.blobs, leases: leases, files: files)
            // Blobs are deleted only after being retired: if nothing was retired since before
            // the record was read, its blobs are still there, and now leased.
            if leases.retirements == retirements {
                return DiskObjectReader(record: record, files: files, lease: lease)
            }
            // A writer may have committed and deleted these blobs before the lease; reading
            // again tells whether the record still names them.
            retirements = leases.retirements
            guard let again = try await index.object(bucket: bucket, key: key) else {
                throw StorageError(.noSuchKey, key)
            }
            if again.blobs == record.blobs {
                return DiskObjectReader(record: again, files: files, lease: lease)
            }
            if let bytes = again.inlineData { return BufferedObjectReader(info: again.info, bytes: bytes) }
            record = again
        }
        throw StorageError(.internalError, "\(key) kept changing while being opened")
    }

    /// The current version's info, or nil.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func headObject(bucket: String, key: String) async throws -> ObjectInfo? {
        try await index.object(bucket: bucket, key: key)?.info
    }

    /// Deletes the current version; its blobs go once no reader uses them.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    @discardableResult
    public func deleteObject(bucket: String, key: String, precondition: WritePrecondition) async throws -> ObjectInfo? {
        let index = self.index
        return try await commit(newBlobs: []) {
            let record = try await index.deleteObject(bucket: bucket, key: key, precondition: precondition)
            return (record?.info, record?.blobFiles ?? [])
        }
    }

    /// Lists keys in byte order; listed infos have empty `parts`.
    /// - Throws: ``StorageError/Code/noSuchBucket``.
    public func listObjects(bucket: String, query: ListQuery) async throws -> ListPage {
        try await index.listObjects(bucket: bucket, query: query)
    }

    // MARK: Commit

    /// Runs an index transaction shielded from task cancellation (so its outcome is always
    /// known), then deletes the blobs it freed, or, when it failed, the blobs written for it.
    /// - Throws: what `transaction` throws.
    func commit<Value: Sendable>(
        newBlobs: [BlobID], _ transaction: @escaping @Sendable () async throws -> (Value, freed: [BlobID])
    ) async throws -> Value {
        let files = self.files
        let leases = self.leases
        return try await Task(executorPreference: RequestExecutor.current) {
            do {
                let (value, freed) = try await transaction()
                await files.remove(leases.retire(freed))
                return value
            } catch {
                await files.remove(newBlobs)
                throw error
            }
        }.value
    }

    /// How many blobs readers currently hold (for tests and metrics).
    public var leasedBlobCount: Int { leases.leasedCount }
}
