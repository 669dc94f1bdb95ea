import Foundation
import PostgresMetadata
import PostgresTestSupport
import SQLiteMetadata
import Storage
import Testing

/// The ``MultipartLedger`` contract, on SQLite and on a real PostgreSQL.
@Suite("MultipartLedger contract")
struct MultipartLedgerContractTests {
    enum Kind: String, CaseIterable, Sendable { case sqlite, postgres }

    /// A fresh ledger, and what to run when done.
    static func make(_ kind: Kind) async throws -> (ledger: any MultipartLedger, close: @Sendable () -> Void) {
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let database = try SQLiteDatabase(path: directory.appendingPathComponent("meta.db").path)
            return (try SQLiteMultipartLedger(database: database), { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            let database = try PostgresDatabase(url: try await PostgresTestServer.shared.makeDatabaseURL())
            let pool = Task { await database.run() }
            do {
                return (try await PostgresMultipartLedger(database: database), { pool.cancel() })
            } catch {
                pool.cancel()
                throw error
            }
        }
    }

    static let checksum = StoredChecksum(algorithm: "CRC32C", value: "yZRlqg==")

    @Test(arguments: Kind.allCases)
    func uploadRoundTrip(kind: Kind) async throws {
        let (ledger, close) = try await Self.make(kind)
        defer { close() }
        let attributes = ObjectAttributes(contentType: "image/png", cacheControl: "no-cache", userMetadata: ["a": "1"])
        let initiated = Date(timeIntervalSince1970: 1_795_341_600.5)
        let key = "k/ü é\u{1}"
        try await ledger.recordUpload(bucket: "b", upload: UploadInfo(key: key, uploadID: "u1", initiated: initiated, attributes: attributes, checksumAlgorithm: "CRC32C"))
        let upload = try #require(try await ledger.upload(uploadID: "u1"))
        #expect(upload.key == key)
        #expect(upload.attributes == attributes)
        #expect(upload.checksumAlgorithm == "CRC32C")
        #expect(abs(upload.initiated.timeIntervalSince(initiated)) < 0.001)
        #expect(try await ledger.upload(uploadID: "u2") == nil)
    }

    @Test(arguments: Kind.allCases)
    func partsReplaceAndSort(kind: Kind) async throws {
        let (ledger, close) = try await Self.make(kind)
        defer { close() }
        try await ledger.recordUpload(bucket: "b", upload: UploadInfo(key: "k", uploadID: "u1", initiated: Date(), attributes: ObjectAttributes(), checksumAlgorithm: nil))
        try await ledger.recordPart(uploadID: "u1", part: ObjectPart(number: 3, size: 30, etag: "e3"))
        try await ledger.recordPart(uploadID: "u1", part: ObjectPart(number: 1, size: 10, etag: "old", checksum: Self.checksum))
        try await ledger.recordPart(uploadID: "u1", part: ObjectPart(number: 1, size: 11, etag: "e1", checksum: Self.checksum))
        try await ledger.recordPart(uploadID: "other", part: ObjectPart(number: 2, size: 5, etag: "x"))
        let parts = try await ledger.parts(uploadID: "u1")
        #expect(parts == [ObjectPart(number: 1, size: 11, etag: "e1", checksum: Self.checksum), ObjectPart(number: 3, size: 30, etag: "e3")])
    }

    @Test(arguments: Kind.allCases)
    func completionRecordsTheObjectAndForgetsTheUpload(kind: Kind) async throws {
        let (ledger, close) = try await Self.make(kind)
        defer { close() }
        try await ledger.recordUpload(bucket: "b", upload: UploadInfo(key: "k", uploadID: "u1", initiated: Date(), attributes: ObjectAttributes(), checksumAlgorithm: nil))
        let parts = [ObjectPart(number: 1, size: 5_242_880, etag: "e1", checksum: Self.checksum), ObjectPart(number: 2, size: 7, etag: "e2")]
        for part in parts { try await ledger.recordPart(uploadID: "u1", part: part) }
        try await ledger.completeUpload(bucket: "b", key: "k", uploadID: "u1", etag: "abc-2", parts: parts)
        #expect(try await ledger.objectParts(bucket: "b", key: "k", etag: "abc-2") == parts)
        // Another version of the key, or another key, has no record.
        #expect(try await ledger.objectParts(bucket: "b", key: "k", etag: "other-2") == nil)
        #expect(try await ledger.objectParts(bucket: "b", key: "k2", etag: "abc-2") == nil)
        #expect(try await ledger.upload(uploadID: "u1") == nil)
        #expect(try await ledger.parts(uploadID: "u1").isEmpty)
        // A later completion to the same key replaces the record.
        try await ledger.completeUpload(bucket: "b", key: "k", uploadID: "u2", etag: "def-1", parts: [parts[1]])
        #expect(try await ledger.objectParts(bucket: "b", key: "k", etag: "abc-2") == nil)
        #expect(try await ledger.objectParts(bucket: "b", key: "k", etag: "def-1") == [parts[1]])
    }

    @Test(arguments: Kind.allCases)
    func forgettingAnUpload(kind: Kind) async throws {
        let (ledger, close) = try await Self.make(kind)
        defer { close() }
        try await ledger.recordUpload(bucket: "b", upload: UploadInfo(key: "k", uploadID: "u1", initiated: Date(), attributes: ObjectAttributes(), checksumAlgorithm: nil))
        try await ledger.recordPart(uploadID: "u1", part: ObjectPart(number: 1, size: 1, etag: "e"))
        try await ledger.forgetUpload(uploadID: "u1")
        #expect(try await ledger.upload(uploadID: "u1") == nil)
        #expect(try await ledger.parts(uploadID: "u1").isEmpty)
        try await ledger.forgetUpload(uploadID: "never")
    }
}
