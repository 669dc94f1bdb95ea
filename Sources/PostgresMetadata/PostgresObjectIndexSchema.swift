/// The object index's tables in PostgreSQL, the layout of the SQLite index (`ObjectIndexSchema`):
/// keys are `BYTEA` (compared bytewise, which is UTF-8 byte order); times are `BIGINT`
/// milliseconds since 1970; attributes are JSON text; every integer is `BIGINT` (SQLite's
/// `INTEGER` is 64-bit).
///
/// Bucket names and upload ids are `TEXT COLLATE "C"`: bucket listings are in byte order and
/// upload ids are a listing tiebreak compared as bytes (``ListingMachine``), whatever the
/// database's default collation is.
enum PostgresObjectIndexSchema {
    /// The migrations of the object index; identifiers start with `storage-`. PostgreSQL runs one
    /// statement per query, hence one string per statement.
    static let migrations: [(id: String, sql: [String])] = [
        (id: "storage-v1", sql: [
            """
            CREATE TABLE buckets (
                name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                created_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE objects (
                bucket TEXT COLLATE "C" NOT NULL,
                key BYTEA NOT NULL,
                size BIGINT NOT NULL,
                etag TEXT NOT NULL,
                last_modified_ms BIGINT NOT NULL,
                attributes TEXT NOT NULL,
                checksum_algorithm TEXT,
                checksum_value TEXT,
                is_multipart BOOLEAN NOT NULL,
                derived_from_etag TEXT,
                PRIMARY KEY (bucket, key))
            """,
            """
            CREATE TABLE object_parts (
                bucket TEXT COLLATE "C" NOT NULL,
                key BYTEA NOT NULL,
                seq BIGINT NOT NULL,
                number BIGINT NOT NULL,
                size BIGINT NOT NULL,
                etag TEXT NOT NULL,
                checksum_algorithm TEXT,
                checksum_value TEXT,
                blob TEXT NOT NULL,
                PRIMARY KEY (bucket, key, seq))
            """,
            "CREATE INDEX object_parts_by_blob ON object_parts (blob)",
            """
            CREATE TABLE uploads (
                upload_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                bucket TEXT COLLATE "C" NOT NULL,
                key BYTEA NOT NULL,
                initiated_ms BIGINT NOT NULL,
                attributes TEXT NOT NULL,
                checksum_algorithm TEXT)
            """,
            "CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id)",
            """
            CREATE TABLE upload_parts (
                upload_id TEXT COLLATE "C" NOT NULL,
                number BIGINT NOT NULL,
                size BIGINT NOT NULL,
                etag TEXT NOT NULL,
                checksum_algorithm TEXT,
                checksum_value TEXT,
                blob TEXT NOT NULL,
                PRIMARY KEY (upload_id, number))
            """,
            "CREATE INDEX upload_parts_by_blob ON upload_parts (blob)",
        ]),
        // Small objects' bytes in their part row (`ObjectRecord.inlineData`); NULL for parts
        // whose bytes are in a blob file.
        (id: "storage-v2-inline-data", sql: ["ALTER TABLE object_parts ADD COLUMN data BYTEA"]),
        // Parts with inline bytes have no blob file, and recovery only asks about blob files:
        // they stay out of the blob index (one random index insert less per small PUT). The new
        // index is built before the old one is dropped: the build's lock lets other instances
        // read object_parts meanwhile (only their writes wait), and the drop's exclusive lock
        // lasts only to the commit that follows.
        (id: "storage-v3-file-blob-index", sql: [
            "CREATE INDEX object_parts_by_file_blob ON object_parts (blob) WHERE data IS NULL",
            "DROP INDEX object_parts_by_blob",
            "ALTER INDEX object_parts_by_file_blob RENAME TO object_parts_by_blob",
        ]),
    ]
}
