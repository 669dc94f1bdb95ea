import DiskStorage
import Foundation
import Logging
import PolicyStore
import SQLiteMetadata
import Storage

/// What the gateway keeps: object bytes and metadata, and policy records.
struct Backends {
    var objects: any ObjectStore
    var policy: any PolicyStore
    var media: any MediaInfoStore
}

/// Builds the stores the settings name. The only place that names concrete stores.
enum StorageFactory {
    /// The stores `serve` uses.
    /// - Throws: ``SettingsError`` for a backend this build does not have; database and file
    ///   system errors.
    static func makeBackends(settings: Settings, logger: Logger) async throws -> Backends {
        guard settings.storage == "disk" else {
            throw SettingsError("--storage s3 (upstream R2/S3) is not available in this build yet; use --storage disk")
        }
        let database = try openDatabase(settings: settings)
        let index = try SQLiteObjectIndex(database: database)
        let root = URL(fileURLWithPath: settings.dataDir).appendingPathComponent("objects").path
        let objects = try await DiskObjectStore(root: root, index: index)
        return Backends(objects: objects, policy: try SQLitePolicyStore(database: database), media: try SQLiteMediaInfoStore(database: database))
    }

    /// The policy records alone, for admin commands (they work while a server runs: SQLite in
    /// WAL mode lets both write, one transaction at a time).
    /// - Throws: as ``makeBackends(settings:logger:)``.
    static func openPolicyStore(settings: Settings) throws -> any PolicyStore {
        try SQLitePolicyStore(database: openDatabase(settings: settings))
    }

    private static func openDatabase(settings: Settings) throws -> SQLiteDatabase {
        let metadata = settings.metadataURL
        guard metadata.hasPrefix("sqlite:") else {
            throw SettingsError("--metadata \(metadata.split(separator: ":").first ?? "") is not available in this build yet; use sqlite:PATH")
        }
        return try SQLiteDatabase(path: String(metadata.dropFirst("sqlite:".count)))
    }
}
