import Foundation
import NIOCore
import Storage
import Testing

@testable import DiskStorage

/// Large uploads are written around the page cache (`O_DIRECT`), others through it; either way
/// the file holds exactly the bytes appended, however the body was split.
@Suite("BlobFileWriter")
struct BlobFileWriterTests {
    /// A fresh file path in a temp directory of its own (the writer creates the file).
    static func scratchFile() throws -> (path: String, cleanUp: () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-blob-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory.appendingPathComponent("blob").path, { try? FileManager.default.removeItem(at: directory) })
    }

    /// Writes `bytes` in pieces of `piece` bytes; returns the writer's mode after the last
    /// batch, the length `finish()` reported, and the file's bytes.
    static func write(_ bytes: [UInt8], declared: Int64?, piece: Int) async throws -> (direct: Bool, length: Int64, file: [UInt8]) {
        let (path, cleanUp) = try scratchFile()
        defer { cleanUp() }
        let writer = try await BlobFileWriter.create(path, expectedLength: declared)
        var start = 0
        while start < bytes.count {
            let end = min(start + piece, bytes.count)
            try await writer.append(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        let direct = writer.direct
        let length = try await writer.finish()
        return (direct, length, Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    /// A declared length from the threshold up: full 4 MiB batches and an unaligned tail (the
    /// tail's aligned part direct, its last bytes through the page cache), in pieces that
    /// straddle every batch boundary.
    @Test(arguments: [0, 1, 4095, 4096, 12_345])
    func largeBodiesAreWrittenDirect(extra: Int) async throws {
        let size = Int(BlobFileWriter.directThreshold) + extra
        let bytes = pattern(size, seed: UInt8(extra % 251))
        let result = try await Self.write(bytes, declared: Int64(size), piece: 65_537)
        // This machine kind's file systems (ext4, tmpfs) take O_DIRECT; where one does not, the
        // writer falls back to buffered writes and this expectation is the one that fails.
        #expect(result.direct)
        #expect(result.length == Int64(size))
        #expect(md5Hex(result.file) == md5Hex(bytes))
    }

    /// Below the threshold, or with no declared length, writes go through the page cache.
    @Test(arguments: [Int64(300_000), nil])
    func otherBodiesAreBuffered(declared: Int64?) async throws {
        let bytes = pattern(3 * BlobFileWriter.bufferedBatch + 777, seed: 9)
        let result = try await Self.write(bytes, declared: declared, piece: 100_003)
        #expect(!result.direct)
        #expect(result.length == Int64(bytes.count))
        #expect(md5Hex(result.file) == md5Hex(bytes))
    }

    /// Batch buffers are kept for the next upload: a file written after a longer one holds
    /// its own bytes only, in both modes.
    @Test(arguments: [Int64(300_000), BlobFileWriter.directThreshold])
    func reusedBuffersCarryNothingOver(declared: Int64) async throws {
        let longer = pattern(Int(declared) + 3 * BlobFileWriter.directBatch / 2 + 999, seed: 21)
        let shorter = pattern(Int(declared) + 1, seed: 22)
        for bytes in [longer, shorter, longer, shorter] {
            let result = try await Self.write(bytes, declared: Int64(bytes.count), piece: 262_144)
            #expect(result.length == Int64(bytes.count))
            #expect(md5Hex(result.file) == md5Hex(bytes))
        }
    }

    /// A large body that breaks off (its length declared, as a client's `Content-Length`)
    /// leaves no temp file and no blob, and the key keeps its object.
    @Test
    func brokenLargeBodyLeavesNoTrace() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let store = harness.store
        let original = try await put(store, "k", pattern(5000))
        let body = TestBody.failingMidway(
            after: pattern(BlobFileWriter.directBatch * 2 + 100, seed: 3), declaredLength: BlobFileWriter.directThreshold * 2)
        await #expect(throws: TestFailure.self) {
            try await store.putObject(
                bucket: "b", key: "k", attributes: .init(), precondition: .none, origin: .client, body: body)
        }
        #expect(try await store.headObject(bucket: "b", key: "k") == original)
        #expect(try await contents(store, "k") == pattern(5000))
        #expect(harness.fileCounts() == (0, 1))
    }
}
