import DiskStorage
import Foundation
import Logging
import PolicyStore
import PostgresMetadata
import SQLiteMetadata
import SigV4
import Storage
import UpstreamStorage

/// What the gateway keeps: object bytes and metadata, policy records and media info.
struct Backends {
    var objects: any ObjectStore
    var policy: any PolicyStore
    var media: any MediaInfoStore
    /// Runs while the gateway does (the PostgreSQL connection pool); nil for SQLite.
    var pool: Task<Void, Never>?
}

/// Builds the stores the settings name. The only place that names concrete stores.
enum StorageFactory {
    /// The stores `serve` uses.
    /// - Throws: ``SettingsError`` for a backend this build does not have; database and file
    ///   system errors.
    static func makeBackends(settings: Settings, logger: Logger) async throws -> Backends {
        let objectsDir = URL(fileURLWithPath: settings.dataDir).appendingPathComponent("objects").path
        let upstream = try upstreamConfiguration(settings)
        switch try metadata(settings) {
        case .sqlite(let path):
            let database = try SQLiteDatabase(path: path)
            let objects: any ObjectStore = if let upstream {
                try UpstreamObjectStore(configuration: upstream, ledger: try SQLiteMultipartLedger(database: database), logger: logger)
            } else {
                try await DiskObjectStore(root: objectsDir, index: try SQLiteObjectIndex(database: database))
            }
            return Backends(
                objects: objects, policy: try SQLitePolicyStore(database: database),
                media: try SQLiteMediaInfoStore(database: database))
        case .postgres(let url):
            let database = try PostgresDatabase(url: url, logger: logger)
            let pool = Task { await database.run() }
            do {
                let objects: any ObjectStore = if let upstream {
                    try UpstreamObjectStore(
                        configuration: upstream, ledger: try await PostgresMultipartLedger(database: database), logger: logger)
                } else {
                    try await DiskObjectStore(root: objectsDir, index: try await PostgresObjectIndex(database: database))
                }
                return Backends(
                    objects: objects, policy: try await PostgresPolicyStore(database: database),
                    media: try await PostgresMediaInfoStore(database: database), pool: pool)
            } catch {
                pool.cancel()
                throw error
            }
        }
    }

    /// The upstream settings for `--storage s3`, or nil for disk storage.
    /// - Throws: ``SettingsError`` when the endpoint or credentials are missing or malformed.
    static func upstreamConfiguration(_ settings: Settings) throws -> UpstreamConfiguration? {
        guard settings.storage == "s3" else { return nil }
        guard let endpoint = settings.upstreamEndpoint else {
            throw SettingsError("--storage s3 needs --upstream-endpoint (for R2: https://ACCOUNT.r2.cloudflarestorage.com)")
        }
        let credentials = SigV4Credentials(accessKeyID: settings.upstreamAccessKey ?? "", secretAccessKey: settings.upstreamSecretKey ?? "")
        let spool = URL(fileURLWithPath: settings.dataDir).appendingPathComponent("upstream-staging").path
        do {
            return try UpstreamConfiguration(
                endpoint: endpoint, region: settings.upstreamRegion ?? "auto", credentials: credentials, spoolDirectory: spool)
        } catch {
            throw SettingsError(error.description)
        }
    }

    /// The policy records alone, for admin commands (they work while a server runs: SQLite in
    /// WAL mode lets both write, one transaction at a time; PostgreSQL serves every instance).
    /// - Returns: the store, and the connection pool to cancel when done (PostgreSQL).
    /// - Throws: as ``makeBackends(settings:logger:)``.
    static func openPolicyStore(settings: Settings) async throws -> (store: any PolicyStore, pool: Task<Void, Never>?) {
        switch try metadata(settings) {
        case .sqlite(let path):
            return (try SQLitePolicyStore(database: SQLiteDatabase(path: path)), nil)
        case .postgres(let url):
            let database = try PostgresDatabase(url: url)
            let pool = Task { await database.run() }
            return (try await PostgresPolicyStore(database: database), pool)
        }
    }

    enum Metadata {
        case sqlite(path: String)
        case postgres(url: String)
    }

    static func metadata(_ settings: Settings) throws -> Metadata {
        let url = settings.metadataURL
        if url.hasPrefix("sqlite:") { return .sqlite(path: String(url.dropFirst("sqlite:".count))) }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") { return .postgres(url: url) }
        throw SettingsError("--metadata must be sqlite:PATH or postgres://user:password@host:port/database")
    }
}
