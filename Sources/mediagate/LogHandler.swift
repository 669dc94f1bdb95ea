import Foundation
import Glibc
import GatewayCore
import Logging
import Synchronization

/// Log lines on standard error, in the layout of swift-log's `StreamLogHandler`
/// (`<time> <level> <label>: <metadata> [<source>] <message>`), with metadata formatted only
/// when a line is written.
///
/// `StreamLogHandler` formats its metadata again on every change, and the HTTP server sets a
/// request id on each request's logger: at the default level nothing is logged per request,
/// yet that formatting was a visible share of a small GET's CPU (bench/PROFILE.md).
struct StandardErrorLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error.message"] = "\(error)" }
        let rendered = merged.isEmpty
            ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(HTTPDate.iso8601(Date())) \(event.level) \(label):\(rendered) [\(event.source)] \(event.message)\n"
        Self.write(line)
    }

    /// One lock for all handlers, so lines never interleave.
    private static let output = Mutex(())

    /// Writes to file descriptor 2, ignoring failures: a closed pipe or a full disk must not
    /// stop the server (Foundation's `FileHandle.write(_:)` traps on them).
    private static func write(_ line: String) {
        var bytes = Array(line.utf8)
        output.withLock { _ in
            bytes.withUnsafeMutableBytes { raw in
                var done = 0
                while done < raw.count {
                    let written = Glibc.write(2, raw.baseAddress! + done, raw.count - done)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    done += written
                }
            }
        }
    }
}
