import Integrity
import NIOCore
import Storage

/// Makes an ``UploadBody`` from bytes the gateway itself produces (copies, variants): hashes them
/// as they stream so the store records the right ETag and checksum.
final class DigestingBody: @unchecked Sendable {
    private var source: ByteStream.Iterator
    private var digester: BodyDigester
    private let algorithm: ChecksumAlgorithm?
    private let facts: UploadFacts

    /// - Parameter facts: what is known of the bytes already (length, the source's checksum);
    ///   a checksum of another algorithm than `algorithm` is dropped.
    /// - Important: the result is consumed once: chunks first, then `finish`.
    init(_ stream: ByteStream, checksum algorithm: ChecksumAlgorithm?, facts: UploadFacts = UploadFacts()) {
        self.source = stream.makeAsyncIterator()
        self.algorithm = algorithm
        var facts = facts
        facts.checksumAlgorithm = algorithm?.rawValue
        if facts.checksum?.algorithm != algorithm?.rawValue { facts.checksum = nil }
        self.facts = facts
        self.digester = BodyDigester(md5: true, sha256: false, checksum: algorithm)
    }

    func uploadBody() -> UploadBody {
        UploadBody(
            chunks: ByteStream { [self] in ByteStream.Iterator { try await self.next() } }, facts: facts,
            finish: { [self] in self.finish() })
    }

    private func next() async throws -> ByteBuffer? {
        guard let buffer = try await source.next() else { return nil }
        buffer.withUnsafeReadableBytes { digester.update($0) }
        return buffer
    }

    private func finish() -> UploadDigest {
        let digests = digester.finalize()
        let md5 = digests.md5Hex ?? ""
        let checksum = digests.checksum.map { StoredChecksum(algorithm: $0.algorithm.rawValue, value: $0.base64) }
        return UploadDigest(md5Hex: md5, checksum: checksum)
    }
}
