import Foundation

/// What an upstream object store cannot be asked later about multipart uploads and the objects
/// they make: an upload's declared attributes and checksum algorithm, each part's checksum (the
/// gateway computes it; S3-compatible stores need not keep it), and the part list of a completed
/// object (for `GET ?partNumber=N` and its composite checksum).
///
/// Kept in the metadata store, so every instance sharing it sees the same records. Records are
/// keyed by upload ID (unique upstream) and, for objects, by bucket, key and ETag: a record whose
/// ETag no longer matches the object describes an older version and is ignored.
public protocol MultipartLedger: Sendable {
    /// Records a started upload.
    func recordUpload(bucket: String, upload: UploadInfo) async throws
    /// The upload as recorded, or nil when it was not (or is no longer) recorded.
    func upload(uploadID: String) async throws -> UploadInfo?
    /// Records a part, replacing an earlier record of the same part number.
    func recordPart(uploadID: String, part: ObjectPart) async throws
    /// The recorded parts, by ascending number.
    func parts(uploadID: String) async throws -> [ObjectPart]
    /// Records the parts of the object an upload became (replacing the key's earlier record) and
    /// forgets the upload.
    func completeUpload(bucket: String, key: String, uploadID: String, etag: String, parts: [ObjectPart]) async throws
    /// The parts of `bucket/key` when its recorded ETag is `etag`.
    func objectParts(bucket: String, key: String, etag: String) async throws -> [ObjectPart]?
    /// Forgets an upload and its parts.
    func forgetUpload(uploadID: String) async throws
}

/// Encoding of ledger records in a database column.
public enum LedgerCoding {
    public static func text(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
