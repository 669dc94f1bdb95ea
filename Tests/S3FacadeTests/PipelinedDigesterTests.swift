import Integrity
import NIOCore
import Testing

@testable import S3Facade

/// The pipelined digester hashes on its own queues in 1 MiB batches (MD5 on one, the other
/// digests on another when one of them is slow); its digests must equal a one-pass
/// ``BodyDigester``'s for any split of the body.
struct PipelinedDigesterTests {
    static func body(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// The digests a body may need: split in two lanes (a payload SHA-256, a SHA-1 checksum) or
    /// kept in one (a CRC-32 only, MD5 only).
    enum Needs: CaseIterable, Sendable {
        case sha256AndCRC32C, sha1, crc32, md5Only

        var digester: BodyDigester {
            switch self {
            case .sha256AndCRC32C: BodyDigester(md5: true, sha256: true, checksum: .crc32c)
            case .sha1: BodyDigester(md5: true, sha256: false, checksum: .sha1)
            case .crc32: BodyDigester(md5: true, sha256: false, checksum: .crc32)
            case .md5Only: BodyDigester(md5: true, sha256: false, checksum: nil)
            }
        }
    }

    @Test(arguments: [
        0, 1, 4096, PipelinedDigester.batchBytes - 1, PipelinedDigester.batchBytes, 5 * PipelinedDigester.batchBytes + 12_345,
        (3 * PipelinedDigester.maxQueued + 1) * PipelinedDigester.batchBytes + 5,
    ], Needs.allCases)
    func matchesOnePass(size: Int, needs: Needs) async {
        let bytes = Self.body(size, seed: UInt64(size))
        var reference = needs.digester
        bytes.withUnsafeBytes { reference.update($0) }
        let expected = reference.finalize()

        let pipelined = PipelinedDigester(needs.digester)
        var offset = 0
        var piece = 1
        while offset < bytes.count {
            // Pieces of varying sizes, as a socket delivers them.
            let end = min(bytes.count, offset + piece)
            await pipelined.update(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
            piece = piece * 7 % 200_003 + 1
        }
        let digests = await pipelined.finalize()
        #expect(digests == expected)
        #expect(digests.byteCount == Int64(size))
    }
}
