import Foundation
import Logging
import PostgresNIO
import Storage

/// The ``MultipartLedger`` in PostgreSQL (migration `upstream-multipart-v1`), shared by every
/// instance on the database.
public struct PostgresMultipartLedger: MultipartLedger {
    let database: PostgresDatabase
    var logger: Logger { database.logger }

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate([(id: "upstream-multipart-v1", sql: [
            """
            CREATE TABLE upstream_uploads (
                upload_id TEXT PRIMARY KEY,
                bucket TEXT NOT NULL,
                key BYTEA NOT NULL,
                initiated DOUBLE PRECISION NOT NULL,
                checksum_algorithm TEXT,
                attributes TEXT NOT NULL)
            """,
            """
            CREATE TABLE upstream_parts (
                upload_id TEXT NOT NULL,
                part_number INTEGER NOT NULL,
                part TEXT NOT NULL,
                PRIMARY KEY (upload_id, part_number))
            """,
            """
            CREATE TABLE upstream_objects (
                bucket TEXT NOT NULL,
                key BYTEA NOT NULL,
                etag TEXT NOT NULL,
                parts TEXT NOT NULL,
                PRIMARY KEY (bucket, key))
            """,
        ])])
    }

    public func recordUpload(bucket: String, upload: UploadInfo) async throws {
        let attributes = try LedgerCoding.text(upload.attributes)
        let key = Data(upload.key.utf8)
        let initiated = upload.initiated.timeIntervalSince1970
        try await database.client.query("""
            INSERT INTO upstream_uploads (upload_id, bucket, key, initiated, checksum_algorithm, attributes)
            VALUES (\(upload.uploadID), \(bucket), \(key), \(initiated), \(upload.checksumAlgorithm), \(attributes))
            ON CONFLICT (upload_id) DO UPDATE SET bucket = EXCLUDED.bucket, key = EXCLUDED.key, initiated = EXCLUDED.initiated,
                checksum_algorithm = EXCLUDED.checksum_algorithm, attributes = EXCLUDED.attributes
            """, logger: logger)
    }

    public func upload(uploadID: String) async throws -> UploadInfo? {
        let rows = try await database.client.query(
            "SELECT key, initiated, checksum_algorithm, attributes FROM upstream_uploads WHERE upload_id = \(uploadID)", logger: logger)
        for try await (key, initiated, algorithm, attributes) in rows.decode((Data, Double, String?, String).self) {
            return UploadInfo(
                key: String(decoding: key, as: UTF8.self), uploadID: uploadID, initiated: Date(timeIntervalSince1970: initiated),
                attributes: try LedgerCoding.decode(ObjectAttributes.self, attributes), checksumAlgorithm: algorithm)
        }
        return nil
    }

    public func recordPart(uploadID: String, part: ObjectPart) async throws {
        let text = try LedgerCoding.text(part)
        try await database.client.query("""
            INSERT INTO upstream_parts (upload_id, part_number, part) VALUES (\(uploadID), \(part.number), \(text))
            ON CONFLICT (upload_id, part_number) DO UPDATE SET part = EXCLUDED.part
            """, logger: logger)
    }

    public func parts(uploadID: String) async throws -> [ObjectPart] {
        let rows = try await database.client.query(
            "SELECT part FROM upstream_parts WHERE upload_id = \(uploadID) ORDER BY part_number", logger: logger)
        var parts: [ObjectPart] = []
        for try await text in rows.decode(String.self) { parts.append(try LedgerCoding.decode(ObjectPart.self, text)) }
        return parts
    }

    public func completeUpload(bucket: String, key: String, uploadID: String, etag: String, parts: [ObjectPart]) async throws {
        let text = try LedgerCoding.text(parts)
        let keyBytes = Data(key.utf8)
        let logger = self.logger
        try await database.transaction { connection in
            try await connection.query("""
                INSERT INTO upstream_objects (bucket, key, etag, parts) VALUES (\(bucket), \(keyBytes), \(etag), \(text))
                ON CONFLICT (bucket, key) DO UPDATE SET etag = EXCLUDED.etag, parts = EXCLUDED.parts
                """, logger: logger)
            try await Self.forget(connection, uploadID, logger)
        }
    }

    public func objectParts(bucket: String, key: String, etag: String) async throws -> [ObjectPart]? {
        let rows = try await database.client.query(
            "SELECT parts FROM upstream_objects WHERE bucket = \(bucket) AND key = \(Data(key.utf8)) AND etag = \(etag)", logger: logger)
        for try await text in rows.decode(String.self) { return try LedgerCoding.decode([ObjectPart].self, text) }
        return nil
    }

    public func forgetUpload(uploadID: String) async throws {
        let logger = self.logger
        try await database.transaction { connection in try await Self.forget(connection, uploadID, logger) }
    }

    private static func forget(_ connection: PostgresConnection, _ uploadID: String, _ logger: Logger) async throws {
        try await connection.query("DELETE FROM upstream_parts WHERE upload_id = \(uploadID)", logger: logger)
        try await connection.query("DELETE FROM upstream_uploads WHERE upload_id = \(uploadID)", logger: logger)
    }
}
