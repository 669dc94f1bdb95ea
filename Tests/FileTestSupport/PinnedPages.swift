#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The pages of some files held in memory while a test needs them there: each file is mapped,
/// read in, and locked (`mmap` with `MAP_POPULATE`, then `mlock`) until ``release()``.
///
/// A store hands a file over to be sent from an event loop only when all of it is in the page
/// cache, and this machine's page cache is emptied every few seconds (bench/PROFILE.md,
/// session 21): a test that expects a file handed over pins it first. Emptying the cache skips
/// mapped pages, and reclaim skips locked ones (locking can fail without `CAP_IPC_LOCK`; the
/// mapping stays).
public final class PinnedPages: @unchecked Sendable {
    private var mappings: [(address: UnsafeMutableRawPointer, length: Int)] = []

    /// Pins every regular file of at least one byte under `directory`, at any depth.
    public init(filesUnder directory: URL) throws {
        let paths = (FileManager.default.subpaths(atPath: directory.path) ?? []).map { directory.appendingPathComponent($0).path }
        for path in paths {
            var status = stat()
            guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size > 0 else { continue }
            try pin(path, length: Int(status.st_size))
        }
    }

    private func pin(_ path: String, length: Int) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        guard let address = mmap(nil, length, PROT_READ, MAP_SHARED | MAP_POPULATE, descriptor, 0), address != MAP_FAILED else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        _ = mlock(address, length)
        mappings.append((address, length))
    }

    /// Unlocks and unmaps every file; the pages may then be dropped again.
    public func release() {
        for (address, length) in mappings {
            munlock(address, length)
            munmap(address, length)
        }
        mappings = []
    }

    deinit { release() }
}
