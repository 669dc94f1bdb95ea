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

    /// Creates an upload body.
    public init<S: AsyncSequence & Sendable>(
        chunks: S, finish: @escaping @Sendable () async throws -> UploadDigest
    ) where S.Element == ByteBuffer {
        self.chunks = ByteStream(chunks)
        self.finish = finish
    }
}
