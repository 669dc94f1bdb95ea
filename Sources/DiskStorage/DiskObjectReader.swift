import NIOCore
import Storage
import _NIOFileSystem

/// An open version of a disk object. It holds a lease on the version's blobs (``BlobLease``),
/// so every part stays readable however the object changes, until the reader and its streams
/// are gone.
final class DiskObjectReader: ObjectReader {
    let info: ObjectInfo
    let blobs: [BlobID]
    let files: BlobFiles
    let lease: BlobLease

    init(record: ObjectRecord, files: BlobFiles, lease: BlobLease) {
        self.info = record.info
        self.blobs = record.blobs
        self.files = files
        self.lease = lease
    }

    /// Streams `range` (or everything) in chunks of at most 1 MiB, each read from disk only
    /// when the consumer asks for it; files are opened part by part and closed when a part is
    /// done, at the end, or when the consumer drops the iterator.
    func read(range: Range<Int64>?) -> ByteStream {
        let resolved: Range<Int64>
        do {
            resolved = try ReadRange.resolve(range, size: info.size)
        } catch {
            return .failing(error)
        }
        let segments = Self.segments(of: info.parts, blobs: blobs, covering: resolved)
        return ByteStream { [self] in
            let cursor = BlobCursor(segments: segments, files: files, reader: self)
            return ByteStream.Iterator { try await cursor.next() }
        }
    }

    /// The pieces of blobs that make up `range` of the object.
    static func segments(of parts: [ObjectPart], blobs: [BlobID], covering range: Range<Int64>) -> [BlobSegment] {
        var segments: [BlobSegment] = []
        var start: Int64 = 0
        for (part, blob) in zip(parts, blobs) {
            let lower = max(range.lowerBound, start)
            let upper = min(range.upperBound, start + part.size)
            if lower < upper { segments.append(BlobSegment(blob: blob, range: (lower - start)..<(upper - start))) }
            start += part.size
        }
        return segments
    }
}

/// A byte range within one blob.
struct BlobSegment: Sendable, Equatable {
    var blob: BlobID
    var range: Range<Int64>
}

/// The state of one read stream; used by one consumer at a time.
final class BlobCursor {
    private let segments: [BlobSegment]
    private let files: BlobFiles
    /// Keeps the reader, and so its lease, alive while the stream is.
    private let reader: DiskObjectReader
    private var index = 0
    private var position: Int64
    private var handle: ReadFileHandle?

    init(segments: [BlobSegment], files: BlobFiles, reader: DiskObjectReader) {
        self.segments = segments
        self.files = files
        self.reader = reader
        self.position = segments.first?.range.lowerBound ?? 0
    }

    /// The next chunk, or nil at the end.
    func next() async throws -> ByteBuffer? {
        while index < segments.count {
            let segment = segments[index]
            guard position < segment.range.upperBound else {
                await closeHandle()
                index += 1
                if index < segments.count { position = segments[index].range.lowerBound }
                continue
            }
            // A small remainder of a blob not opened yet: one blocking pread on this thread.
            if handle == nil, segment.range.upperBound - position <= BlobFiles.inlineReadLimit {
                let chunk = try files.readInline(segment.blob, range: position..<segment.range.upperBound)
                position = segment.range.upperBound
                return chunk
            }
            do {
                let file: ReadFileHandle
                if let handle {
                    file = handle
                } else {
                    file = try await files.openForReading(segment.blob)
                    handle = file
                }
                let length = min(Int64(ReadRange.chunkSize), segment.range.upperBound - position)
                let chunk = try await file.readChunk(fromAbsoluteOffset: position, length: .bytes(length))
                guard chunk.readableBytes > 0 else {
                    throw StorageError(.internalError, "blob \(segment.blob) ends before byte \(position)")
                }
                position += Int64(chunk.readableBytes)
                return chunk
            } catch let error as StorageError {
                throw error
            } catch {
                throw StorageError(.internalError, "reading blob \(segment.blob): \(error)")
            }
        }
        await closeHandle()
        return nil
    }

    private func closeHandle() async {
        guard let handle else { return }
        self.handle = nil
        await closeReliably(handle)
    }

    deinit {
        // The consumer stopped early: close without awaiting (a plain close(2)).
        if let handle, let descriptor = try? handle.detachUnsafeFileDescriptor() {
            try? descriptor.close()
        }
    }
}
