import NIOCore
import Storage

/// Reads the first bytes of an ``UploadBody`` ahead (to check what the content is) and hands the
/// store a body that still yields every byte in order.
///
/// - Important: consumed once: ``head(_:)`` first, then the body from ``uploadBody()``.
final class PeekingBody: @unchecked Sendable {
    private let base: UploadBody
    private var iterator: ByteStream.Iterator
    private var buffered: [ByteBuffer] = []

    init(_ base: UploadBody) {
        self.base = base
        self.iterator = base.chunks.makeAsyncIterator()
    }

    /// The first `count` bytes, or all of them when the body is shorter.
    /// - Throws: the body's own errors (signatures, lengths).
    func head(_ count: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count, let buffer = try await iterator.next() {
            buffered.append(buffer)
            bytes.append(contentsOf: buffer.readableBytesView.prefix(count - bytes.count))
        }
        return bytes
    }

    /// The whole body: the buffers read ahead, then the rest.
    func uploadBody() -> UploadBody {
        UploadBody(
            chunks: ByteStream { [self] in ByteStream.Iterator { try await self.next() } }, facts: base.facts,
            finish: base.finish)
    }

    private func next() async throws -> ByteBuffer? {
        if !buffered.isEmpty { return buffered.removeFirst() }
        return try await iterator.next()
    }
}
