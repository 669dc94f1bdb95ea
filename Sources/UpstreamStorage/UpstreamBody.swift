import Foundation
import Integrity
import NIOCore
import Storage

/// How an upload goes upstream, decided before its first byte.
///
/// Streaming is chosen for bodies over the in-memory staging limit when the upstream request can be
/// signed without the bytes: the length is known, the SHA-256 is known (or the connection is TLS, where `UNSIGNED-PAYLOAD` is safe), and the
/// checksum to record is known. Otherwise the body is staged first (memory up to a limit, then a
/// file), hashed, verified, and sent with its computed SHA-256.
enum UploadPlan {
    case stream(length: Int64, sha256Hex: String?)
    case stage

    static func choose(_ facts: UploadFacts, tls: Bool, memoryLimit: Int) -> UploadPlan {
        // Small bodies are verified before anything goes upstream.
        guard let length = facts.length, length > Int64(memoryLimit) else { return .stage }
        if facts.checksumAlgorithm != nil, facts.checksum == nil { return .stage }
        if let sha = facts.sha256Hex { return .stream(length: length, sha256Hex: sha) }
        return tls ? .stream(length: length, sha256Hex: nil) : .stage
    }
}

/// Passes an upload's bytes upstream with its very last byte held back until
/// ``UploadBody/finish`` has verified the whole body. A body that fails verification therefore
/// never reaches its declared length, and the upstream store discards it. (One byte, not the last
/// chunk: SeaweedFS commits an empty object when a PUT's connection closes before any body byte.)
final class HeldBackUpload: @unchecked Sendable {
    private let body: UploadBody
    private let lock = NSLock()
    private var digest: UploadDigest?

    init(_ body: UploadBody) {
        self.body = body
    }

    /// The verified digest, once the stream has ended.
    var verifiedDigest: UploadDigest? { lock.withLock { digest } }

    var stream: ByteStream {
        ByteStream { [self] in
            var iterator = body.chunks.makeAsyncIterator()
            var held: ByteBuffer?
            var lastByte: ByteBuffer?
            var ended = false
            return ByteStream.Iterator {
                if ended { return nil }
                do {
                    if lastByte == nil {
                        while let next = try await iterator.next() {
                            if next.readableBytes == 0 { continue }
                            if let previous = held {
                                held = next
                                return previous
                            }
                            held = next
                        }
                        guard var last = held else { return try await self.verified(then: nil, ended: &ended) }
                        held = nil
                        if last.readableBytes > 1, let head = last.readSlice(length: last.readableBytes - 1) {
                            lastByte = last
                            return head
                        }
                        return try await self.verified(then: last, ended: &ended)
                    }
                    let byte = lastByte
                    lastByte = nil
                    return try await self.verified(then: byte, ended: &ended)
                } catch {
                    throw UpstreamBodyError(underlying: error)
                }
            }
        }
    }

    /// Verifies the body, then releases `buffer`.
    private func verified(then buffer: ByteBuffer?, ended: inout Bool) async throws -> ByteBuffer? {
        let digest = try await body.finish()
        lock.withLock { self.digest = digest }
        ended = true
        return buffer
    }
}

/// An upload read completely before it goes upstream: in memory when small, else in a temp file.
struct StagedUpload: Sendable {
    let payload: UpstreamPayload
    let digest: UploadDigest
    let length: Int64
    /// The temp file to remove after sending, if one was made.
    let file: String?

    /// Reads `body` to its end, verifies it (``UploadBody/finish``) and hashes it.
    static func stage(_ body: UploadBody, directory: String, memoryLimit: Int) async throws -> StagedUpload {
        var digester = BodyDigester(md5: false, sha256: true, checksum: nil)
        var memory: [UInt8] = []
        var handle: FileHandle?
        var path: String?
        var length: Int64 = 0
        do {
            for try await buffer in body.chunks {
                buffer.withUnsafeReadableBytes { digester.update($0) }
                length += Int64(buffer.readableBytes)
                if handle == nil, memory.count + buffer.readableBytes <= memoryLimit {
                    memory.append(contentsOf: buffer.readableBytesView)
                    continue
                }
                if handle == nil {
                    let name = directory + "/upstream-" + UUID().uuidString + ".part"
                    guard FileManager.default.createFile(atPath: name, contents: nil, attributes: [.posixPermissions: 0o600]),
                        let opened = FileHandle(forWritingAtPath: name)
                    else { throw StorageError(.internalError, "cannot create a staging file in \(directory)") }
                    path = name
                    handle = opened
                    try opened.write(contentsOf: memory)
                    memory = []
                }
                try handle?.write(contentsOf: Data(buffer.readableBytesView))
            }
            try handle?.close()
            let digest = try await body.finish()
            let sha = digester.finalize().sha256Hex ?? ""
            if let path {
                return StagedUpload(payload: .file(path: path, length: length, sha256Hex: sha), digest: digest, length: length, file: path)
            }
            return StagedUpload(payload: .bytes(memory), digest: digest, length: length, file: nil)
        } catch {
            try? handle?.close()
            if let path { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
    }

    func discard() {
        if let file { try? FileManager.default.removeItem(atPath: file) }
    }
}

/// A staged file's bytes, read in 256 KiB chunks.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    func makeAsyncIterator() -> Iterator { Iterator(path: path) }

    struct Iterator: AsyncIteratorProtocol {
        let path: String
        var handle: FileHandle?
        var done = false

        init(path: String) { self.path = path }

        mutating func next() async throws -> ByteBuffer? {
            if done { return nil }
            if handle == nil {
                guard let opened = FileHandle(forReadingAtPath: path) else {
                    throw StorageError(.internalError, "staging file vanished: \(path)")
                }
                handle = opened
            }
            guard let data = try handle?.read(upToCount: 256 * 1024), !data.isEmpty else {
                try? handle?.close()
                done = true
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }
}
