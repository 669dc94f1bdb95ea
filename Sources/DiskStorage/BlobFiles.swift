#if canImport(Glibc)
import CFileShim
import Glibc
#endif
import NIOCore
import NIOPosix
import Storage
import _NIOFileSystem

/// A blob written, synced and renamed into place, but referenced by nothing yet.
struct WrittenBlob: Sendable {
    var id: BlobID
    var size: Int64
    var digest: UploadDigest
}

/// The files of a ``DiskObjectStore``: immutable blobs under `<root>/blobs/<2 hex>/<id>`, uploads
/// in progress under `<root>/tmp/<id>`. Names come only from ``BlobID``s, never from keys.
struct BlobFiles: Sendable {
    let root: FilePath
    let fileSystem: FileSystem

    var blobsDirectory: FilePath { root.appending("blobs") }
    var tmpDirectory: FilePath { root.appending("tmp") }

    func path(of id: BlobID) -> FilePath { blobsDirectory.appending(id.fanOut).appending(id.rawValue) }

    /// Creates the root, `tmp/` and `blobs/` when missing, and syncs them. Fan-out directories
    /// are created by the first write into them.
    func prepare() async throws {
        for directory in [root, tmpDirectory, blobsDirectory]
        where try await fileSystem.info(forFileAt: directory, infoAboutSymbolicLink: false) == nil {
            try await fileSystem.createDirectory(at: directory, withIntermediateDirectories: true, permissions: nil)
            try await syncDirectory(directory.removingLastComponent())
        }
    }

    /// Renames a finished temp file to its blob path, creating the fan-out directory on first use.
    private func moveIntoPlace(_ temporary: FilePath, _ final: FilePath) async throws {
        do {
            try await fileSystem.moveItem(at: temporary, to: final)
        } catch let error as FileSystemError where error.code == .notFound {
            guard try await fileSystem.info(forFileAt: temporary, infoAboutSymbolicLink: false) != nil else { throw error }
            try await fileSystem.createDirectory(at: final.removingLastComponent(), withIntermediateDirectories: false, permissions: nil)
            try await syncDirectory(blobsDirectory)
            try await fileSystem.moveItem(at: temporary, to: final)
        }
    }

    /// Streams `body` into a new blob: writes to `tmp/` as buffers arrive (``BlobFileWriter``:
    /// one batch on its way to disk while the next is received), awaits `body.finish()`, fsyncs
    /// the file, renames it into `blobs/` and fsyncs that directory.
    ///
    /// On any error (the body's, `finish()`'s, or I/O) nothing is left behind and the error is
    /// rethrown.
    func write(_ body: UploadBody) async throws -> WrittenBlob {
        let id = BlobID.random()
        let temporary = tmpDirectory.appending(id.rawValue)
        let final = path(of: id)
        if let length = body.facts.length, length <= Self.inlineWriteLimit {
            return try await writeSmall(body, id: id, temporary: temporary, final: final)
        }
        let writer = try await BlobFileWriter.create(temporary.string, expectedLength: body.facts.length)
        var renamed = false
        do {
            for try await chunk in body.chunks {
                try await writer.append(chunk)
            }
            let digest = try await body.finish()
            let size = try await writer.finish()
            try await moveIntoPlace(temporary, final)
            renamed = true
            try await syncDirectory(final.removingLastComponent())
            return WrittenBlob(id: id, size: size, digest: digest)
        } catch {
            await writer.abandon()
            _ = try? await fileSystem.removeItem(at: renamed ? final : temporary, recursively: false)
            throw error
        }
    }

    /// Bodies of at most this many bytes (by their declared length) are gathered in memory and
    /// written by ``writeSmall(_:id:temporary:final:)``.
    static let inlineWriteLimit: Int64 = 256 << 10

    /// A small body: gathered and verified (`finish()`) first, then written, fsynced, renamed
    /// and its directory fsynced in one thread-pool job, instead of about eight (one per
    /// file-system call; see bench/PROFILE.md). Nothing is written for a body that fails.
    private func writeSmall(_ body: UploadBody, id: BlobID, temporary: FilePath, final: FilePath) async throws -> WrittenBlob {
        let (bytes, digest) = try await body.gathered()
        let size = Int64(bytes.readableBytes)
        let blobs = blobsDirectory
        try await Self.blockingThreads.runIfActive { [bytes] in
            try Self.persist(bytes, temporary: temporary.string, final: final.string, blobsDirectory: blobs.string)
        }
        return WrittenBlob(id: id, size: size, digest: digest)
    }

    /// Threads for blocking file writes: ``persist(_:temporary:final:blobsDirectory:)`` and
    /// ``BlobFileWriter``'s batches and fsync. A job spends most of its time waiting for the
    /// device (fsyncs, `O_DIRECT` writes), so more threads than cores let concurrent PUTs wait
    /// together (the file system journals their syncs in shared commits) instead of queueing on
    /// the two threads of `NIOThreadPool.singleton`. Started on first use, lives as long as the
    /// process.
    static let blockingThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()

    /// Writes `bytes` to a new file at `temporary`, fsyncs it, renames it to `final` (creating
    /// and syncing its fan-out directory on first use) and fsyncs the directory. Blocking; on
    /// failure neither file is left.
    private static func persist(_ bytes: ByteBuffer, temporary: String, final: String, blobsDirectory: String) throws {
        func fail(_ what: String, _ path: String, _ code: Int32 = errno) -> StorageError {
            StorageError(.internalError, "\(what) \(path): errno \(code)")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw fail("creating", temporary) }
        var renamed = false
        do {
            defer { close(descriptor) }
            _ = try bytes.withUnsafeReadableBytes { raw in
                try BlobFileWriter.write(raw[...], at: 0, to: descriptor, direct: false, path: temporary)
            }
            guard fsync(descriptor) == 0 else { throw fail("syncing", temporary) }
            let directory = String(final[..<final.lastIndex(of: "/")!])
            if rename(temporary, final) != 0 {
                guard errno == ENOENT else { throw fail("renaming", temporary) }
                guard mkdir(directory, 0o755) == 0 || errno == EEXIST else { throw fail("creating", directory) }
                try syncDirectory(atPath: blobsDirectory)
                guard rename(temporary, final) == 0 else { throw fail("renaming", temporary) }
            }
            renamed = true
            try syncDirectory(atPath: directory)
        } catch {
            unlink(renamed ? final : temporary)
            throw error
        }
    }

    /// fsyncs a directory (blocking).
    private static func syncDirectory(atPath path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StorageError(.internalError, "opening \(path): errno \(errno)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StorageError(.internalError, "syncing \(path): errno \(errno)") }
    }

    /// Deletes blobs, ignoring failures: a blob left behind is an orphan that the next
    /// ``DiskObjectStore/init(root:index:minimumPartSize:)`` removes.
    func remove(_ ids: some Sequence<BlobID>) async {
        for id in ids {
            _ = try? await fileSystem.removeItem(at: path(of: id), recursively: false)
        }
    }

    /// Opens a blob for reading, close-on-exec like every descriptor the store opens (NIO's
    /// default is not: a child process started meanwhile would keep the file).
    func openForReading(_ id: BlobID) async throws -> ReadFileHandle {
        try await fileSystem.openFile(forReadingAt: path(of: id), options: OpenOptions.Read(closeOnExec: true))
    }

    /// Reads `range` of a blob on the calling thread: open, pread, close. For small ranges
    /// (at most ``inlineReadLimit`` bytes) of files that are almost always in the page cache,
    /// this costs a few microseconds, against three thread-pool hand-offs for
    /// ``openForReading(_:)`` and a read (see bench/PROFILE.md).
    /// - Throws: ``StorageError/Code/internalError`` when the file cannot be opened or ends early.
    func readInline(_ id: BlobID, range: Range<Int64>) throws -> ByteBuffer {
        let path = path(of: id).string
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StorageError(.internalError, "opening blob \(id): errno \(errno)")
        }
        defer { close(descriptor) }
        let count = Int(range.upperBound - range.lowerBound)
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        var done = 0
        while done < count {
            var read = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { bytes in
                read = pread(descriptor, bytes.baseAddress, count - done, off_t(range.lowerBound) + off_t(done))
                return max(read, 0)
            }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else {
                throw StorageError(.internalError, "blob \(id) ends before byte \(range.lowerBound + Int64(done))")
            }
            done += read
        }
        return buffer
    }

    /// Opens a blob on the calling thread, if it is there, `size` bytes long (a blob truncated
    /// by damage is for the regular read to report) and all in the page cache: the caller
    /// sends it from an event loop, where reading a page from the disk would stall every
    /// connection of that loop; the regular read of a blob that is not (a cold one, or one
    /// the kernel evicted) brings it back.
    func openNow(_ id: BlobID, size: Int64) -> NIOFileHandle? {
        let descriptor = open(path(of: id).string, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int64(status.st_size) == size, mg_file_cached(descriptor, size) == 1 else {
            close(descriptor)
            return nil
        }
        return NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

    /// The largest range ``readInline(_:range:)`` is used for.
    static let inlineReadLimit: Int64 = 256 << 10

    /// fsyncs a directory so that entries created or renamed in it survive a crash.
    func syncDirectory(_ directory: FilePath) async throws {
        try await Self.blockingThreads.runIfActive { try Self.syncDirectory(atPath: directory.string) }
    }

    /// The entries of `directory`.
    func entries(of directory: FilePath) async throws -> [DirectoryEntry] {
        try await fileSystem.withDirectoryHandle(atPath: directory) { handle in
            var entries: [DirectoryEntry] = []
            for try await batch in handle.listContents().batched() { entries += batch }
            return entries
        }
    }
}

/// Closes a file handle even when the task is cancelled: NIO's `close()` can throw without
/// closing, and a handle freed while open stops the process. Falls back to a plain close(2).
func closeReliably(_ handle: some FileHandleProtocol) async {
    do {
        try await handle.close()
    } catch {
        if let descriptor = try? handle.detachUnsafeFileDescriptor() { try? descriptor.close() }
    }
}
