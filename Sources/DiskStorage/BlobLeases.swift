import Storage
import Synchronization

/// Keeps the blobs of versions being read from being deleted.
///
/// A reader leases its version's blobs; a writer that replaced or deleted a version *retires*
/// its blobs after the commit. A retired blob without leases is deleted at once; a leased one
/// when its last lease ends. So a reader can stream every part of its version (not only the
/// first open file) while the object is overwritten or deleted.
///
/// The reader's side of the race (it read the record, a writer then committed and retired the
/// blobs before the lease was taken) is closed by ``DiskObjectStore``: it notes ``retirements``
/// before reading the record and, if the count moved by the time its lease is taken, reads the
/// record again and retries when it changed.
final class BlobLeases: Sendable {
    private struct State {
        var leases: [BlobID: Int] = [:]
        var retired: Set<BlobID> = []
        var retirements: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Leases `ids` (a blob may appear more than once).
    func acquire(_ ids: [BlobID]) {
        state.withLock { state in
            for id in ids { state.leases[id, default: 0] += 1 }
        }
    }

    /// Ends leases on `ids`.
    /// - Returns: the retired blobs whose last lease this was: the caller deletes them.
    func release(_ ids: [BlobID]) -> [BlobID] {
        state.withLock { state in
            var deletable: [BlobID] = []
            for id in ids {
                guard let count = state.leases[id] else { continue }
                if count > 1 {
                    state.leases[id] = count - 1
                } else {
                    state.leases[id] = nil
                    if state.retired.remove(id) != nil { deletable.append(id) }
                }
            }
            return deletable
        }
    }

    /// Marks blobs that no committed version references any more.
    /// - Returns: those without leases: the caller deletes them now; the others are deleted by
    ///   the caller of the last ``release(_:)``.
    func retire(_ ids: [BlobID]) -> [BlobID] {
        state.withLock { state in
            if !ids.isEmpty { state.retirements &+= 1 }
            var deletable: [BlobID] = []
            for id in ids {
                if state.leases[id] == nil { deletable.append(id) } else { state.retired.insert(id) }
            }
            return deletable
        }
    }

    /// How many non-empty ``retire(_:)`` calls there have been.
    var retirements: UInt64 { state.withLock { $0.retirements } }

    /// How many blobs are leased (for tests).
    var leasedCount: Int { state.withLock { $0.leases.count } }
}

/// A reader's lease on its version's blobs; ends when the last reference goes away.
final class BlobLease: Sendable {
    private let ids: [BlobID]
    private let leases: BlobLeases
    private let files: BlobFiles

    /// Leases `ids` until this object is released.
    init(ids: [BlobID], leases: BlobLeases, files: BlobFiles) {
        self.ids = ids
        self.leases = leases
        self.files = files
        leases.acquire(ids)
    }

    deinit {
        let deletable = leases.release(ids)
        if !deletable.isEmpty {
            let files = self.files
            Task { await files.remove(deletable) }
        }
    }
}
