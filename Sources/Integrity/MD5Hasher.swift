import Crypto

/// A streaming MD5, for ETags and `Content-MD5` (swift-crypto's `Insecure.MD5`).
public struct MD5Hasher: Sendable {
    private var md5 = Insecure.MD5()

    /// Starts an empty hash.
    public init() {}

    /// Feeds `bytes` into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        md5.update(bufferPointer: bytes)
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

    /// The 16-byte digest of everything fed so far (does not end the stream).
    public func finalize() -> [UInt8] {
        Array(md5.finalize())
    }

    /// Lowercase hex of a digest: the form of a single-part ETag (without quotes).
    public static func hex(_ digest: [UInt8]) -> String {
        Hex.encode(digest)
    }

    /// Base64 of a digest: the form of a `Content-MD5` header.
    public static func base64(_ digest: [UInt8]) -> String {
        Base64.encode(digest)
    }

    /// The MD5 digest of `bytes` in one call.
    public static func digest(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = MD5Hasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}
