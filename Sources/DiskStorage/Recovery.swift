import Storage
import _NIOFileSystem

/// What ``DiskObjectStore/init(root:index:minimumPartSize:)`` cleaned up after a crash.
public struct RecoveryReport: Sendable, Equatable {
    /// Entries removed from `tmp/` (uploads interrupted before their rename).
    public var removedTemporaryFiles: Int
    /// Blobs that nothing referenced (written but never committed, or freed but not deleted).
    public var removedOrphanBlobs: Int
    /// Entries under `blobs/` that are not blob files; left alone.
    public var unknownEntries: Int

    /// Creates a report.
    public init(removedTemporaryFiles: Int = 0, removedOrphanBlobs: Int = 0, unknownEntries: Int = 0) {
        self.removedTemporaryFiles = removedTemporaryFiles
        self.removedOrphanBlobs = removedOrphanBlobs
        self.unknownEntries = unknownEntries
    }
}

/// Startup cleanup of a disk store's directories.
struct Recovery {
    let files: BlobFiles
    let index: any ObjectIndex

    /// Empties `tmp/` and deletes unreferenced blobs, one fan-out directory at a time.
    func run() async throws -> RecoveryReport {
        var report = RecoveryReport()
        for entry in try await files.entries(of: files.tmpDirectory) {
            report.removedTemporaryFiles += try await files.fileSystem.removeItem(at: entry.path, recursively: true) > 0 ? 1 : 0
        }
        for fanDirectory in try await files.entries(of: files.blobsDirectory) {
            guard fanDirectory.type == .directory else {
                report.unknownEntries += 1
                continue
            }
            var candidates: [BlobID] = []
            for entry in try await files.entries(of: fanDirectory.path) {
                guard entry.type == .regular, let id = BlobID(entry.name.string),
                    id.fanOut == fanDirectory.name.string
                else {
                    report.unknownEntries += 1
                    continue
                }
                candidates.append(id)
            }
            guard !candidates.isEmpty else { continue }
            let referenced = try await index.referencedBlobs(among: candidates)
            let orphans = candidates.filter { !referenced.contains($0) }
            await files.remove(orphans)
            report.removedOrphanBlobs += orphans.count
        }
        return report
    }
}
