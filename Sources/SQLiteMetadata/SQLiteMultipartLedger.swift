import Foundation
import GRDB
import Storage

/// The ``MultipartLedger`` in SQLite (migration `upstream-multipart-v1`).
public struct SQLiteMultipartLedger: MultipartLedger {
    public let database: SQLiteDatabase

    /// Opens the ledger on `database`, creating its tables.
    /// - Throws: `DatabaseError` when a migration fails.
    public init(database: SQLiteDatabase) throws {
        self.database = database
        var migrator = DatabaseMigrator()
        migrator.registerMigration("upstream-multipart-v1") { db in
            try db.execute(sql: """
                CREATE TABLE upstream_uploads (
                    upload_id TEXT NOT NULL PRIMARY KEY,
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    initiated REAL NOT NULL,
                    checksum_algorithm TEXT,
                    attributes TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE upstream_parts (
                    upload_id TEXT NOT NULL,
                    part_number INTEGER NOT NULL,
                    part TEXT NOT NULL,
                    PRIMARY KEY (upload_id, part_number)
                ) WITHOUT ROWID;
                CREATE TABLE upstream_objects (
                    bucket TEXT NOT NULL,
                    key BLOB NOT NULL,
                    etag TEXT NOT NULL,
                    parts TEXT NOT NULL,
                    PRIMARY KEY (bucket, key)
                ) WITHOUT ROWID;
                """)
        }
        try migrator.migrate(database.pool)
    }

    public func recordUpload(bucket: String, upload: UploadInfo) async throws {
        let attributes = try LedgerCoding.text(upload.attributes)
        try await database.pool.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO upstream_uploads (upload_id, bucket, key, initiated, checksum_algorithm, attributes)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [upload.uploadID, bucket, Data(upload.key.utf8), upload.initiated.timeIntervalSince1970,
                                 upload.checksumAlgorithm, attributes])
        }
    }

    public func upload(uploadID: String) async throws -> UploadInfo? {
        // Decoded inside the read: a `Row` is not Sendable, and a closure returning one would
        // select GRDB's blocking `read` instead of the asynchronous one.
        try await database.pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT key, initiated, checksum_algorithm, attributes FROM upstream_uploads WHERE upload_id = ?",
                arguments: [uploadID])
            else { return nil }
            let key: Data = row["key"]
            let initiated: Double = row["initiated"]
            return UploadInfo(
                key: String(decoding: key, as: UTF8.self), uploadID: uploadID, initiated: Date(timeIntervalSince1970: initiated),
                attributes: try LedgerCoding.decode(ObjectAttributes.self, row["attributes"]), checksumAlgorithm: row["checksum_algorithm"])
        }
    }

    public func recordPart(uploadID: String, part: ObjectPart) async throws {
        let text = try LedgerCoding.text(part)
        try await database.pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO upstream_parts (upload_id, part_number, part) VALUES (?, ?, ?)",
                           arguments: [uploadID, part.number, text])
        }
    }

    public func parts(uploadID: String) async throws -> [ObjectPart] {
        let texts = try await database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT part FROM upstream_parts WHERE upload_id = ? ORDER BY part_number", arguments: [uploadID])
        }
        return try texts.map { try LedgerCoding.decode(ObjectPart.self, $0) }
    }

    public func completeUpload(bucket: String, key: String, uploadID: String, etag: String, parts: [ObjectPart]) async throws {
        let text = try LedgerCoding.text(parts)
        try await database.pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO upstream_objects (bucket, key, etag, parts) VALUES (?, ?, ?, ?)",
                           arguments: [bucket, Data(key.utf8), etag, text])
            try Self.forget(db, uploadID)
        }
    }

    public func objectParts(bucket: String, key: String, etag: String) async throws -> [ObjectPart]? {
        let text = try await database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT parts FROM upstream_objects WHERE bucket = ? AND key = ? AND etag = ?",
                                arguments: [bucket, Data(key.utf8), etag])
        }
        return try text.map { try LedgerCoding.decode([ObjectPart].self, $0) }
    }

    public func forgetUpload(uploadID: String) async throws {
        try await database.pool.write { db in try Self.forget(db, uploadID) }
    }

    private static func forget(_ db: Database, _ uploadID: String) throws {
        try db.execute(sql: "DELETE FROM upstream_parts WHERE upload_id = ?", arguments: [uploadID])
        try db.execute(sql: "DELETE FROM upstream_uploads WHERE upload_id = ?", arguments: [uploadID])
    }
}
