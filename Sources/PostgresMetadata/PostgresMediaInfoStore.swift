import Foundation
import Logging
import PostgresNIO
import Storage

/// The ``MediaInfoStore`` in PostgreSQL (migration `media-v1`): one JSON record per key.
public struct PostgresMediaInfoStore: MediaInfoStore {
    let database: PostgresDatabase
    var logger: Logger { database.logger }

    /// Opens the store, creating its table.
    /// - Throws: PostgreSQL errors.
    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate([(id: "media-v1", sql: [
            """
            CREATE TABLE media_info (
                bucket TEXT NOT NULL,
                key BYTEA NOT NULL,
                etag TEXT NOT NULL,
                info TEXT NOT NULL,
                PRIMARY KEY (bucket, key))
            """,
        ])])
    }

    public func mediaInfo(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String)? {
        try await database.client.withConnection { connection in try await Self.fetch(connection, bucket, key, lock: false, logger) }
    }

    public func saveComputed(_ info: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        try await database.transaction { connection in
            let merged = MediaInfo.mergingComputed(info, etag: etag, into: try await Self.fetch(connection, bucket, key, lock: true, logger))
            try await Self.store(connection, merged, bucket, key, etag, logger)
            return merged
        }
    }

    public func fill(_ patch: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        try await database.transaction { connection in
            let merged = MediaInfo.fillingPatch(patch, etag: etag, into: try await Self.fetch(connection, bucket, key, lock: true, logger))
            try await Self.store(connection, merged, bucket, key, etag, logger)
            return merged
        }
    }

    private static func fetch(_ connection: PostgresConnection, _ bucket: String, _ key: String, lock: Bool, _ logger: Logger) async throws -> (info: MediaInfo, etag: String)? {
        // The lock keeps two fills of one record from losing one of them.
        let rows = lock
            ? try await connection.query("SELECT etag, info FROM media_info WHERE bucket = \(bucket) AND key = \(Data(key.utf8)) FOR UPDATE", logger: logger)
            : try await connection.query("SELECT etag, info FROM media_info WHERE bucket = \(bucket) AND key = \(Data(key.utf8))", logger: logger)
        for try await (etag, text) in rows.decode((String, String).self) {
            return (try JSONDecoder().decode(MediaInfo.self, from: Data(text.utf8)), etag)
        }
        return nil
    }

    private static func store(_ connection: PostgresConnection, _ info: MediaInfo, _ bucket: String, _ key: String, _ etag: String, _ logger: Logger) async throws {
        let text = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
        try await connection.query("""
            INSERT INTO media_info (bucket, key, etag, info) VALUES (\(bucket), \(Data(key.utf8)), \(etag), \(text))
            ON CONFLICT (bucket, key) DO UPDATE SET etag = EXCLUDED.etag, info = EXCLUDED.info
            """, logger: logger)
    }
}
