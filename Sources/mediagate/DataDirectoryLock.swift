import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<data-dir>/serve.lock` for as long as `serve` runs: two gateways on one
/// data dir would remove each other's in-flight temp files at start-up (disk recovery). Admin
/// commands do not take it; they go through the metadata store.
final class DataDirectoryLock {
    private let descriptor: Int32

    /// Takes the lock.
    /// - Throws: ``SettingsError`` when another process holds it, or the file cannot be opened.
    init(dataDirectory: String) throws {
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("serve.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SettingsError("cannot open \(path): errno \(errno)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SettingsError("another mediagate serve is using \(dataDirectory) (\(path) is locked)")
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
