import DiskStorage
import Foundation
import Logging
import SQLiteMetadata
import Storage

/// Builds the object store the settings name. The only place that names concrete stores.
enum StorageFactory {
    static func makeStore(settings: Settings, logger: Logger) async throws -> any ObjectStore {
        guard settings.storage == "disk" else {
            throw SettingsError("--storage s3 (upstream R2/S3) is not available in this build yet; use --storage disk")
        }
        let metadata = settings.metadataURL
        guard metadata.hasPrefix("sqlite:") else {
            throw SettingsError("--metadata \(metadata.split(separator: ":").first ?? "") is not available in this build yet; use sqlite:PATH")
        }
        let databasePath = String(metadata.dropFirst("sqlite:".count))
        let index = try SQLiteObjectIndex(path: databasePath)
        let root = URL(fileURLWithPath: settings.dataDir).appendingPathComponent("objects").path
        return try await DiskObjectStore(root: root, index: index)
    }
}
