import Crypto

/// A streaming hasher for one ``ChecksumAlgorithm``.
///
/// ``finalize()`` returns the base64 of the big-endian digest, which is exactly what S3
/// sends and expects in `x-amz-checksum-*` headers and trailers.
///
/// The CRCs are pure Swift (slicing-by-8); SHA-1 and SHA-256 come from swift-crypto.
/// Each state lives in its own stored property so `update` mutates it in place (moving a
/// swift-crypto hash out of an enum payload would copy its context on every update).
public struct ChecksumHasher: Sendable {
    /// The algorithm this hasher computes.
    public let algorithm: ChecksumAlgorithm

    private var crc32 = CRC32()
    private var crc32c = CRC32C()
    private var crc64 = CRC64NVME()
    private var sha1: Insecure.SHA1?
    private var sha256: SHA256?

    /// Starts an empty hash for `algorithm`.
    public init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha1: sha1 = Insecure.SHA1()
        case .sha256: sha256 = SHA256()
        case .crc32, .crc32c, .crc64nvme: break
        }
    }

    /// Feeds `bytes` into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch algorithm {
        case .crc32: crc32.update(bytes)
        case .crc32c: crc32c.update(bytes)
        case .crc64nvme: crc64.update(bytes)
        case .sha1: sha1?.update(bufferPointer: bytes)
        case .sha256: sha256?.update(bufferPointer: bytes)
        }
    }

    /// Feeds a sequence of bytes (convenience; contiguous collections are not copied).
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The big-endian binary digest of everything fed so far (does not end the stream).
    public func finalizeDigest() -> [UInt8] {
        switch algorithm {
        case .crc32: return Self.bigEndianBytes(UInt64(crc32.value), count: 4)
        case .crc32c: return Self.bigEndianBytes(UInt64(crc32c.value), count: 4)
        case .crc64nvme: return Self.bigEndianBytes(crc64.value, count: 8)
        case .sha1: return Array(sha1!.finalize())
        case .sha256: return Array(sha256!.finalize())
        }
    }

    /// The base64 of the big-endian digest of everything fed so far, as S3 sends it.
    public func finalize() -> String {
        Base64.encode(finalizeDigest())
    }

    /// The checksum of `bytes` in one call, as base64.
    public static func checksum(_ algorithm: ChecksumAlgorithm, of bytes: some Sequence<UInt8>) -> String {
        var hasher = ChecksumHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    private static func bigEndianBytes(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { index in UInt8(truncatingIfNeeded: value >> UInt64(8 * (count - 1 - index))) }
    }
}
