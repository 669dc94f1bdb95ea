#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Storage
import Synchronization

/// Writes a new file from a stream of bytes, one batch on its way to disk while the next is
/// gathered, then fsyncs it. Used by ``BlobFiles/write(_:)`` for bodies too large to gather.
///
/// Bodies of at least ``directThreshold`` bytes (by their declared length) are written with
/// `O_DIRECT`: the bytes go from the batch buffer to the device without being copied into the
/// page cache. On this machine kind that copy is what a 1 GiB upload spends its second core
/// on besides MD5, and it grows three times costlier once the cache holds a few GiB
/// (bench/PROFILE.md, sessions 5 and 7); a large upload also no longer evicts the small objects
/// that are read often. MinIO writes large objects the same way. Smaller bodies go through the
/// page cache, with writeback started after each batch (`sync_file_range`), so that a photo
/// derived from right after its upload is read from memory.
///
/// Where the file system refuses `O_DIRECT` (at open or at the first write) the writer falls
/// back to buffered writes. Either way ``finish()`` fsyncs before it returns.
///
/// - Important: one producer: ``append(_:)`` calls, then ``finish()`` or ``abandon()``.
final class BlobFileWriter {
    /// Declared lengths from which writes bypass the page cache.
    static let directThreshold: Int64 = 16 << 20
    /// Bytes per write with `O_DIRECT` (a multiple of ``alignment``).
    static let directBatch = 4 << 20
    /// Bytes per write through the page cache.
    static let bufferedBatch = 1 << 20
    /// Alignment of buffer addresses, file offsets and lengths for `O_DIRECT`: 4096 satisfies
    /// every logical block size Linux file systems use.
    static let alignment = 4096

    /// Whether writes currently bypass the page cache.
    private(set) var direct: Bool
    /// Bytes written to the file, or on their way (the batch in flight).
    private(set) var offset: Int64 = 0
    private let descriptor: Int32
    private let path: String
    private var filling: AlignedBytes
    private var spare: AlignedBytes?
    /// The batch on its way to disk; its result is the emptied buffer, and whether the file is
    /// still in direct mode.
    private var inFlight: Task<(AlignedBytes, Bool), any Error>?
    private var closed = false

    /// Creates the file (which must not exist), on a thread-pool thread: creating a file can
    /// take a while (ext4 searching for a free inode showed up at 5% of a 1 MiB PUT), and the
    /// request's own thread is one of the few that run every request.
    /// - Parameter expectedLength: the body's declared length, if any: it picks direct or
    ///   buffered writes.
    static func create(_ path: String, expectedLength: Int64?) async throws -> BlobFileWriter {
        let wantsDirect = directFlag != 0 && (expectedLength ?? 0) >= directThreshold
        let (descriptor, direct) = try await BlobFiles.blockingThreads.runIfActive {
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
            if wantsDirect {
                let descriptor = open(path, flags | directFlag, 0o644)
                if descriptor >= 0 { return (descriptor, true) }
            }
            let descriptor = open(path, flags, 0o644)
            guard descriptor >= 0 else { throw StorageError(.internalError, "creating \(path): errno \(errno)") }
            return (descriptor, false)
        }
        return BlobFileWriter(descriptor: descriptor, path: path, direct: direct)
    }

    private init(descriptor: Int32, path: String, direct: Bool) {
        self.descriptor = descriptor
        self.path = path
        self.direct = direct
        filling = AlignedBytes.take(capacity: direct ? Self.directBatch : Self.bufferedBatch)
    }

    deinit {
        if !closed { close(descriptor) }
        filling.recycle()
        spare?.recycle()
    }

    /// Adds bytes at the end of the file; returns once they are copied (a full batch may still
    /// be on its way to disk).
    func append(_ chunk: ByteBuffer) async throws {
        var rest = chunk
        while rest.readableBytes > 0 {
            let taken = rest.withUnsafeReadableBytes { filling.append($0) }
            rest.moveReaderIndex(forwardBy: taken)
            if filling.isFull { try await startWrite() }
        }
    }

    /// Writes what is left, fsyncs and closes the file; returns its length.
    func finish() async throws -> Int64 {
        try await awaitWrite()
        let last = filling
        let at = offset
        let descriptor = self.descriptor
        let path = self.path
        let startsDirect = direct
        offset += Int64(last.count)
        try await BlobFiles.blockingThreads.runIfActive {
            var direct = startsDirect
            let aligned = direct ? last.count & ~(Self.alignment - 1) : 0
            if aligned > 0 {
                direct = try Self.write(last.bytes[..<aligned], at: at, to: descriptor, direct: direct, path: path)
            }
            if aligned < last.count {
                if direct { try Self.leaveDirect(descriptor, path: path) }
                _ = try Self.write(last.bytes[aligned...], at: at + Int64(aligned), to: descriptor, direct: false, path: path)
            }
            guard fsync(descriptor) == 0 else { throw StorageError(.internalError, "syncing \(path): errno \(errno)") }
        }
        closed = true
        guard close(descriptor) == 0 else { throw StorageError(.internalError, "closing \(path): errno \(errno)") }
        return offset
    }

    /// Waits for the write in flight and closes the file, ignoring errors (the caller removes it).
    func abandon() async {
        _ = try? await inFlight?.value
        inFlight = nil
        if !closed {
            closed = true
            close(descriptor)
        }
    }

    /// Hands the full batch to a thread-pool thread and goes on filling the other buffer; waits
    /// first for the previous batch, so at most one is in flight.
    private func startWrite() async throws {
        try await awaitWrite()
        let full = filling
        filling = spare ?? AlignedBytes.take(capacity: full.capacity)
        spare = nil
        let at = offset
        offset += Int64(full.count)
        inFlight = Task { [descriptor, path, direct] in
            try await BlobFileWriter.writeBatch(full, at: at, to: descriptor, direct: direct, path: path)
        }
    }

    /// Writes a full batch on a thread-pool thread, then (through the page cache) asks the
    /// kernel to start writing it back (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does
    /// not wait for the disk): the pages of a large upload then go to disk while the next
    /// batches arrive instead of all at once in the final fsync (RocksDB's `bytes_per_sync` and
    /// PostgreSQL's `backend_flush_after` do the same). Returns the emptied buffer and whether
    /// the file is still in direct mode.
    private static func writeBatch(_ full: AlignedBytes, at: Int64, to descriptor: Int32, direct: Bool, path: String) async throws -> (AlignedBytes, Bool) {
        let stillDirect = try await BlobFiles.blockingThreads.runIfActive {
            let stillDirect = try write(full.bytes[...], at: at, to: descriptor, direct: direct, path: path)
            if !stillDirect, let startWriteback = syncFileRange {
                _ = startWriteback(descriptor, at, Int64(full.count), 2)  // SYNC_FILE_RANGE_WRITE
            }
            return stillDirect
        }
        full.count = 0
        return (full, stillDirect)
    }

    /// Waits for the batch in flight, if any, and keeps its buffer for the next batch.
    private func awaitWrite() async throws {
        guard let inFlight else { return }
        self.inFlight = nil
        let (emptied, stillDirect) = try await inFlight.value
        spare = emptied
        direct = direct && stillDirect
    }

    /// pwrites all of `bytes` at `at`. With `direct`, a first `EINVAL` (the file system wants
    /// another alignment, or no `O_DIRECT` at all) switches the file to buffered writes and
    /// retries. Returns whether the file is still in direct mode. Blocking; also used for the
    /// small blobs that ``BlobFiles`` writes in one piece.
    static func write(_ bytes: Slice<UnsafeRawBufferPointer>, at: Int64, to descriptor: Int32, direct: Bool, path: String) throws -> Bool {
        var direct = direct
        var done = 0
        let base = UnsafeRawBufferPointer(rebasing: bytes)
        while done < base.count {
            let written = pwrite(descriptor, base.baseAddress! + done, base.count - done, off_t(at) + off_t(done))
            if written < 0 && errno == EINTR { continue }
            if written < 0 && errno == EINVAL && direct {
                try leaveDirect(descriptor, path: path)
                direct = false
                continue
            }
            guard written > 0 else { throw StorageError(.internalError, "writing \(path): errno \(errno)") }
            done += written
        }
        return direct
    }

    /// Clears `O_DIRECT` on the open file.
    private static func leaveDirect(_ descriptor: Int32, path: String) throws {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~directFlag) == 0 else {
            throw StorageError(.internalError, "clearing O_DIRECT on \(path): errno \(errno)")
        }
    }

    /// Linux's `O_DIRECT`, which Glibc's Swift module leaves out (it is declared only under
    /// `_GNU_SOURCE`); 0 where its value is not known here, which turns direct writes off.
    static let directFlag: Int32 = {
        #if os(Linux) && arch(x86_64)
        return 0o40000
        #elseif os(Linux) && arch(arm64)
        return 0o200000
        #else
        return 0
        #endif
    }()

    /// glibc's `sync_file_range(2)`, looked up at run time: Glibc's Swift module leaves it out
    /// (it is declared only under `_GNU_SOURCE`). Nil where it does not exist.
    private static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
    }()
}

/// A page-aligned buffer that batches of a ``BlobFileWriter`` are gathered in.
///
/// Buffers are kept for the next upload (``take(capacity:)``, ``recycle()``): a fresh 1 MiB
/// buffer is memory-mapped by malloc and faults in 256 pages as it is filled, which was about
/// 5% of the server's CPU per 1 MiB PUT (bench/PROFILE.md, session 7).
///
/// - Important: touched by one thread at a time: the producer fills it, a thread-pool thread
///   writes it out, and the hand-offs are ordered by the task that awaits the write.
private final class AlignedBytes: @unchecked Sendable {
    let capacity: Int
    var count = 0
    private let start: UnsafeMutableRawPointer

    /// Buffers kept for reuse, by capacity, and how many of each are kept at most (8 MiB each).
    private static let kept = Mutex<[Int: [AlignedBytes]]>([:])
    private static let keepLimit = [BlobFileWriter.bufferedBatch: 8, BlobFileWriter.directBatch: 2]

    /// A kept buffer of `capacity` bytes, or a new one.
    static func take(capacity: Int) -> AlignedBytes {
        kept.withLock { $0[capacity]?.popLast() } ?? AlignedBytes(capacity: capacity)
    }

    /// Empties the buffer and keeps it for ``take(capacity:)`` unless enough are kept.
    /// - Important: the caller holds the last reference and drops it.
    func recycle() {
        count = 0
        let limit = Self.keepLimit[capacity] ?? 0
        Self.kept.withLock { kept in
            if kept[capacity, default: []].count < limit { kept[capacity, default: []].append(self) }
        }
    }

    private init(capacity: Int) {
        let rounded = (capacity + BlobFileWriter.alignment - 1) & ~(BlobFileWriter.alignment - 1)
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, BlobFileWriter.alignment, rounded) == 0, let memory else {
            fatalError("out of memory for a \(rounded)-byte write buffer")
        }
        self.capacity = capacity
        start = memory
    }

    deinit { free(start) }

    var isFull: Bool { count == capacity }

    /// The bytes gathered.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }

    /// Copies as much of `source` as fits; returns how many bytes that was.
    func append(_ source: UnsafeRawBufferPointer) -> Int {
        let taken = min(source.count, capacity - count)
        if taken > 0 { (start + count).copyMemory(from: source.baseAddress!, byteCount: taken) }
        count += taken
        return taken
    }
}
