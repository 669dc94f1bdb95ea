import Foundation
import GRDB
import Storage

/// The ``MediaInfoStore`` in SQLite (migration `media-v1`): one JSON record per key.
public struct SQLiteMediaInfoStore: MediaInfoStore {
    /// The shared database.
    public let database: SQLiteDatabase

    /// Opens the store on `database`, creating its table.
    /// - Throws: `DatabaseError` when a migration fails.
    public init(database: SQLiteDatabase) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("media-v1") { db in
            try db.execute(sql: """
                CREATE TABLE media_info (
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    etag TEXT NOT NULL,
                    info TEXT NOT NULL,
                    PRIMARY KEY (bucket, key)
                ) WITHOUT ROWID;
                """)
        }
        try migrator.migrate(database.pool)
    }

    public func mediaInfo(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String)? {
        try await database.pool.read { db in try Self.fetch(db, bucket, key) }
    }

    public func saveComputed(_ info: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        try await database.pool.write { db in
            let merged = MediaInfo.mergingComputed(info, etag: etag, into: try Self.fetch(db, bucket, key))
            try Self.store(db, merged, bucket, key, etag)
            return merged
        }
    }

    public func fill(_ patch: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        try await database.pool.write { db in
            let merged = MediaInfo.fillingPatch(patch, etag: etag, into: try Self.fetch(db, bucket, key))
            try Self.store(db, merged, bucket, key, etag)
            return merged
        }
    }

    private static func fetch(_ db: Database, _ bucket: String, _ key: String) throws -> (info: MediaInfo, etag: String)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT etag, info FROM media_info WHERE bucket = ? AND key = ?",
                                         arguments: [bucket, Data(key.utf8)]) else { return nil }
        let text: String = row["info"]
        return (try JSONDecoder().decode(MediaInfo.self, from: Data(text.utf8)), row["etag"])
    }

    private static func store(_ db: Database, _ info: MediaInfo, _ bucket: String, _ key: String, _ etag: String) throws {
        let text = String(decoding: try JSONEncoder().encode(info), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO media_info (bucket, key, etag, info) VALUES (?, ?, ?, ?)
            ON CONFLICT (bucket, key) DO UPDATE SET etag = excluded.etag, info = excluded.info
            """, arguments: [bucket, Data(key.utf8), etag, text])
    }
}
