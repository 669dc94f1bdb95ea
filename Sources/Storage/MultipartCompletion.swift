import Integrity
import Foundation

/// The rules of CompleteMultipartUpload, shared by every store and index so they agree exactly.
public enum MultipartCompletion {
    /// Checks the parts a client named against the parts uploaded, and returns the chosen
    /// uploaded parts in order.
    ///
    /// Rules, in the order S3 applies them: the list is not empty and strictly ascending by part
    /// number; each named part was uploaded and its ETag matches (quotes ignored, hex case
    /// ignored); every part but the last has at least `minimumPartSize` bytes.
    /// - Parameters:
    ///   - requested: the parts named in the request.
    ///   - uploaded: the parts uploaded so far, by number; `Value` carries whatever the caller
    ///     needs back (a blob id, bytes…) next to the part.
    ///   - part: extracts the ``ObjectPart`` from an uploaded value.
    /// - Throws: ``StorageError/Code/invalidPart``, ``StorageError/Code/invalidPartOrder``,
    ///   ``StorageError/Code/entityTooSmall``.
    public static func select<Value>(
        requested: [CompletedPart], uploaded: [Int: Value], minimumPartSize: Int64,
        part: (Value) -> ObjectPart
    ) throws -> [Value] {
        guard !requested.isEmpty else { throw StorageError(.invalidPart, "no parts named") }
        var chosen: [Value] = []
        chosen.reserveCapacity(requested.count)
        var previous = 0
        for wanted in requested {
            guard wanted.number > previous else {
                throw StorageError(.invalidPartOrder, "part \(wanted.number) after part \(previous)")
            }
            previous = wanted.number
            guard let value = uploaded[wanted.number], sameETag(part(value).etag, wanted.etag) else {
                throw StorageError(.invalidPart, "part \(wanted.number) missing or ETag differs")
            }
            chosen.append(value)
        }
        for value in chosen.dropLast() where part(value).size < minimumPartSize {
            throw StorageError(.entityTooSmall, "part \(part(value).number) is \(part(value).size) bytes")
        }
        return chosen
    }

    /// The multipart ETag: hex MD5 of the concatenated binary part MD5s, then `-N`.
    ///
    /// A part ETag that is not hex (never produced by this gateway) contributes its UTF-8 bytes.
    public static func etag(of parts: [ObjectPart]) -> String {
        let etags = parts.map(\.etag)
        if let etag = MultipartETag.compute(partMD5Hex: etags) { return etag }
        return MD5Hasher.hex(MD5Hasher.digest(Array(etags.joined().utf8))) + "-\(parts.count)"
    }

    /// The object a completion creates from the chosen parts.
    public static func objectInfo(
        bucket: String, upload: UploadInfo, parts: [ObjectPart], lastModified: Date
    ) -> ObjectInfo {
        ObjectInfo(
            bucket: bucket, key: upload.key, size: parts.reduce(0) { $0 + $1.size },
            etag: etag(of: parts), lastModified: lastModified, attributes: upload.attributes,
            checksum: nil, parts: parts, isMultipart: true, origin: .client
        )
    }

    private static func sameETag(_ stored: String, _ named: String) -> Bool {
        unquoted(stored).lowercased() == unquoted(named).lowercased()
    }

    private static func unquoted(_ etag: String) -> String {
        var text = Substring(etag)
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        return String(text)
    }
}

extension WritePrecondition {
    /// Checks the condition against the current version's ETag (nil when there is none).
    /// `ifMatch` compares unquoted ETags exactly.
    /// - Throws: ``StorageError/Code/noSuchKey`` for `ifMatch` when there is no current version
    ///   (as S3 answers), else ``StorageError/Code/preconditionFailed`` when it does not hold.
    public func check(currentETag: String?, key: String) throws(StorageError) {
        switch self {
        case .none:
            return
        case .ifAbsent:
            guard currentETag == nil else { throw StorageError(.preconditionFailed, key) }
        case .ifMatch(let etag):
            guard let currentETag else { throw StorageError(.noSuchKey, key) }
            guard currentETag == etag else { throw StorageError(.preconditionFailed, key) }
        }
    }
}
