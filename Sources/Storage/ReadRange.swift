import NIOCore

/// Resolution of a requested byte range against an object's size, shared by every store.
public enum ReadRange {
    /// The largest buffer a store's read stream yields (1 MiB: smaller chunks cost throughput).
    public static let chunkSize = 1 << 20

    /// The bytes to serve for `range` of an object of `size` bytes: the whole object when nil,
    /// else `range` with its end clamped to `size`.
    /// - Throws: ``StorageError/Code/invalidRange`` when `range` is empty or does not overlap
    ///   `0..<size`.
    public static func resolve(_ range: Range<Int64>?, size: Int64) throws -> Range<Int64> {
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0, range.lowerBound < size, !range.isEmpty else {
            throw StorageError(.invalidRange, "\(range) of \(size) bytes")
        }
        return range.lowerBound..<min(range.upperBound, size)
    }
}

extension ByteStream {
    /// A stream whose first pull throws `error`.
    public static func failing(_ error: any Error) -> ByteStream {
        ByteStream { ByteStream.Iterator { throw error } }
    }

    /// A stream of `buffer` cut into slices of at most ``ReadRange/chunkSize`` bytes.
    public static func slices(of buffer: ByteBuffer) -> ByteStream {
        ByteStream {
            var rest = buffer
            return ByteStream.Iterator {
                guard rest.readableBytes > 0 else { return nil }
                return rest.readSlice(length: Swift.min(rest.readableBytes, ReadRange.chunkSize))
            }
        }
    }
}
