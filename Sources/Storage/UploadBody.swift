import NIOCore

/// The bytes of an upload, as the S3 facade hands them to a store.
///
/// The facade wraps the request body so that signatures, hashes and checksums are verified while
/// it streams. A store writes ``chunks`` somewhere not yet visible, then calls ``finish()``; only
/// when that returns does it commit.
///
/// - Important: if iterating ``chunks`` throws, or ``finish()`` throws, the store must discard
///   everything it wrote and leave any previous object untouched.
public struct UploadBody: Sendable {
    /// The body's buffers in order.
    public let chunks: ByteStream
    /// Called once after the last chunk: verifies digests and returns what to record.
    public let finish: @Sendable () async throws -> UploadDigest
    /// What is known about the bytes before they stream (an upstream store needs it up front).
    public let facts: UploadFacts

    /// Creates an upload body.
    public init<S: AsyncSequence & Sendable>(
        chunks: S, facts: UploadFacts = UploadFacts(), finish: @escaping @Sendable () async throws -> UploadDigest
    ) where S.Element == ByteBuffer {
        self.chunks = ByteStream(chunks)
        self.facts = facts
        self.finish = finish
    }

    /// Every chunk in one buffer, then ``finish()``: for stores that keep or write a body whole.
    /// Room for the declared length is reserved up front (at most 1 MiB of it).
    public func gathered() async throws -> (bytes: ByteBuffer, digest: UploadDigest) {
        var bytes = ByteBufferAllocator().buffer(capacity: Int(min(facts.length ?? 0, 1 << 20)))
        for try await chunk in chunks {
            bytes.writeImmutableBuffer(chunk)
        }
        return (bytes, try await finish())
    }
}

/// Facts about an upload's bytes known before the first byte arrives. Each one, when present, is
/// enforced by ``UploadBody/finish`` (a body that does not match it fails there).
public struct UploadFacts: Sendable, Equatable {
    /// The exact number of bytes.
    public var length: Int64?
    /// The lowercase hex SHA-256 of the bytes.
    public var sha256Hex: String?
    /// The checksum ``UploadBody/finish`` will return, when its value is already known.
    public var checksum: StoredChecksum?
    /// The algorithm of the checksum ``UploadBody/finish`` will return, when there will be one.
    public var checksumAlgorithm: String?

    public init(length: Int64? = nil, sha256Hex: String? = nil, checksum: StoredChecksum? = nil, checksumAlgorithm: String? = nil) {
        self.length = length
        self.sha256Hex = sha256Hex
        self.checksum = checksum
        self.checksumAlgorithm = checksumAlgorithm ?? checksum?.algorithm
    }
}
