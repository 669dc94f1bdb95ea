import Dispatch
import Integrity
import NIOCore
import Synchronization

/// A ``BodyDigester`` fed from the receive loop of a large upload, hashing on a thread of its
/// own: 1 MiB batches go to a serial queue while the next ones are received, so MD5 (one core
/// at ≈ 700–760 MB/s here) overlaps receiving and writing instead of adding to them
/// (bench/PROFILE.md §4). Up to ``maxQueued`` batches wait for the hashing thread, so a moment
/// in which that thread is not scheduled (two cores, shared with the client and the receive
/// loop) does not stop the receive loop at once; memory stays near 5 MiB. Small bodies (up to
/// one batch) are hashed inline, without a hand-off.
///
/// - Important: one producer: ``update(_:)`` calls, then one ``finalize()``.
final class PipelinedDigester: @unchecked Sendable {
    /// Bytes gathered before a batch is handed to the queue.
    static let batchBytes = 1 << 20
    /// Batches handed to the queue and not yet hashed, at most.
    static let maxQueued = 4

    /// Touched on `queue` while batches are queued, otherwise by the producer: batches are
    /// hashed in the order they were queued, and ``finalize()`` waits for the last one.
    private var digester: BodyDigester
    private let queue = DispatchQueue(label: "mediagate.digest")
    private var batch: [ByteBuffer] = []
    private var gathered = 0
    /// Completion signals of the queued batches, oldest first.
    private var queued: [BatchDone] = []

    init(_ digester: BodyDigester) {
        self.digester = digester
    }

    /// Adds the next bytes of the body.
    func update(_ buffer: ByteBuffer) async {
        batch.append(buffer)
        gathered += buffer.readableBytes
        guard gathered >= Self.batchBytes else { return }
        if queued.count >= Self.maxQueued { await queued.removeFirst().wait() }
        let work = batch
        batch = []
        gathered = 0
        let done = BatchDone()
        queued.append(done)
        queue.async {
            self.digest(work)
            done.signal()
        }
    }

    /// The digests of everything added.
    func finalize() async -> BodyDigests {
        if let last = queued.last { await last.wait() }
        queued = []
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

/// The end of one batch's hashing, awaited by the producer.
private final class BatchDone: Sendable {
    private enum State {
        case running
        case waiting(CheckedContinuation<Void, Never>)
        case done
    }

    private let state = Mutex(State.running)

    /// Called once, on the hashing thread, when the batch is hashed.
    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            defer { state = .done }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume()
    }

    /// Returns once ``signal()`` has been called; called at most once.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                if case .done = state { return true }
                state = .waiting(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }
}
