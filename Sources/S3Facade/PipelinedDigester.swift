import Dispatch
import Integrity
import NIOCore
import Synchronization

/// A ``BodyDigester`` fed from the receive loop of a large upload, hashing on threads of its
/// own: 1 MiB batches go to a serial queue while the next ones are received, so MD5 (one core
/// at ≈ 0.7–0.86 GB/s here) overlaps receiving and writing instead of adding to them
/// (bench/PROFILE.md §4). When the body needs a slow digest besides MD5 (its signed SHA-256,
/// a SHA-1, SHA-256 or CRC-64 checksum), MD5 gets a queue and the rest another, and each batch
/// goes to both (``BodyDigester/splitMD5()``): one thread hashing both would run at about
/// 0.5 GB/s (bench/PROFILE.md, session 19). Up to ``maxQueued`` batches wait for the hashing
/// threads, so a moment in which they are not scheduled (two cores, shared with the client and
/// the receive loop) does not stop the receive loop at once; memory stays near 5 MiB. Small
/// bodies (up to one batch) are hashed inline, without a hand-off.
///
/// - Important: one producer: ``update(_:)`` calls, then one ``finalize()``.
final class PipelinedDigester: @unchecked Sendable {
    /// Bytes gathered before a batch is handed to the queues.
    static let batchBytes = 1 << 20
    /// Batches handed to the queues and not yet hashed, at most.
    static let maxQueued = 4

    /// A digester and the serial queue it runs on.
    private final class Lane: @unchecked Sendable {
        /// Touched on `queue` while batches are queued, otherwise by the producer: batches are
        /// hashed in the order they were queued, and ``finalize()`` waits for the last one.
        var digester: BodyDigester
        let queue = DispatchQueue(label: "mediagate.digest")

        init(_ digester: BodyDigester) {
            self.digester = digester
        }

        func digest(_ buffers: [ByteBuffer]) {
            for buffer in buffers {
                buffer.withUnsafeReadableBytes { digester.update($0) }
            }
        }
    }

    /// One lane, or two: MD5, and the rest.
    private let lanes: [Lane]
    private var batch: [ByteBuffer] = []
    private var gathered = 0
    /// Completion signals of the queued batches, oldest first.
    private var queued: [BatchDone] = []

    init(_ digester: BodyDigester) {
        if let (md5, rest) = digester.splitMD5() {
            lanes = [Lane(md5), Lane(rest)]
        } else {
            lanes = [Lane(digester)]
        }
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
        let done = BatchDone(lanes: lanes.count)
        queued.append(done)
        for lane in lanes {
            lane.queue.async {
                lane.digest(work)
                done.signal()
            }
        }
    }

    /// The digests of everything added.
    func finalize() async -> BodyDigests {
        if let last = queued.last { await last.wait() }
        queued = []
        for lane in lanes { lane.digest(batch) }
        batch = []
        if lanes.count == 2 {
            return BodyDigests(md5: lanes[0].digester.finalize(), rest: lanes[1].digester.finalize())
        }
        return lanes[0].digester.finalize()
    }
}

/// The end of one batch's hashing on every lane, awaited by the producer.
private final class BatchDone: Sendable {
    private enum State {
        /// Lanes still hashing the batch, and the producer if it waits.
        case running(lanes: Int, waiter: CheckedContinuation<Void, Never>?)
        case done
    }

    private let state: Mutex<State>

    init(lanes: Int) {
        state = Mutex(.running(lanes: lanes, waiter: nil))
    }

    /// Called once per lane, on its hashing thread, when it has hashed the batch.
    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard case .running(let lanes, let waiter) = state else { return nil }
            if lanes > 1 {
                state = .running(lanes: lanes - 1, waiter: waiter)
                return nil
            }
            state = .done
            return waiter
        }
        waiter?.resume()
    }

    /// Returns once every lane has called ``signal()``; called at most once.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                guard case .running(let lanes, _) = state else { return true }
                state = .running(lanes: lanes, waiter: continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }
}
