import Dispatch
import Integrity
import NIOCore

/// A ``BodyDigester`` fed from the receive loop of a large upload, hashing on a thread of its
/// own: 1 MiB batches go to a serial queue while the next MiB is received, so MD5 (one core
/// at ≈ 700 MB/s here) overlaps receiving and writing instead of adding to them
/// (bench/PROFILE.md §4). At most one batch is hashed while another is gathered, so memory
/// stays near 2 MiB. Small bodies (up to one batch) are hashed inline, without a hand-off.
///
/// - Important: one producer: ``update(_:)`` calls, then one ``finalize()``.
final class PipelinedDigester: @unchecked Sendable {
    /// Bytes gathered before a batch is handed to the queue.
    static let batchBytes = 1 << 20

    /// Touched on `queue` while a batch is in flight, otherwise by the producer; each hand-off
    /// is ordered by the queue and the continuation that reports its end.
    private var digester: BodyDigester
    private let queue = DispatchQueue(label: "mediagate.digest")
    private var batch: [ByteBuffer] = []
    private var gathered = 0
    private var inFlight: Task<Void, Never>?

    init(_ digester: BodyDigester) {
        self.digester = digester
    }

    /// Adds the next bytes of the body.
    func update(_ buffer: ByteBuffer) async {
        batch.append(buffer)
        gathered += buffer.readableBytes
        guard gathered >= Self.batchBytes else { return }
        await inFlight?.value
        let work = batch
        batch = []
        gathered = 0
        inFlight = Task.detached { [self] in
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                queue.async {
                    self.digest(work)
                    done.resume()
                }
            }
        }
    }

    /// The digests of everything added.
    func finalize() async -> BodyDigests {
        await inFlight?.value
        inFlight = nil
        digest(batch)
        batch = []
        return digester.finalize()
    }

    private func digest(_ buffers: [ByteBuffer]) {
        for buffer in buffers {
            buffer.withUnsafeReadableBytes { digester.update($0) }
        }
    }
}
