import Foundation
import Synchronization

/// What is known about an image object (SPEC §5 media info). Computed fields come from the
/// object's bytes; `altText` and `caption` only from clients. A field is nil while unknown.
public struct MediaInfo: Sendable, Equatable, Codable {
    public var width: Int?
    public var height: Int?
    /// EXIF orientation of the source, 1...8.
    public var orientation: Int?
    /// width / height as displayed (after orientation).
    public var aspectRatio: Double?
    /// `#rrggbb`.
    public var dominantColor: String?
    /// The embedded ICC profile's description, or the colour space when there is none.
    public var colorProfile: String?
    /// Lowercase hex SHA-256 of the object's bytes.
    public var sha256: String?
    /// When the photo was taken (EXIF), RFC 3339.
    public var takenAt: String?
    public var gpsLat: Double?
    public var gpsLng: Double?
    /// Seconds, for video.
    public var duration: Double?
    public var altText: String?
    public var caption: String?

    /// An empty record.
    public init() {}

    /// The names of every field, in SPEC order.
    public static let fieldNames = [
        "width", "height", "orientation", "aspectRatio", "dominantColor", "colorProfile", "sha256", "takenAt",
        "gpsLat", "gpsLng", "duration", "altText", "caption",
    ]

    /// This record with every nil field taken from `other` (the fill-only-empty merge of PATCH).
    public func filling(from other: MediaInfo) -> MediaInfo {
        var merged = self
        merged.width = width ?? other.width
        merged.height = height ?? other.height
        merged.orientation = orientation ?? other.orientation
        merged.aspectRatio = aspectRatio ?? other.aspectRatio
        merged.dominantColor = dominantColor ?? other.dominantColor
        merged.colorProfile = colorProfile ?? other.colorProfile
        merged.sha256 = sha256 ?? other.sha256
        merged.takenAt = takenAt ?? other.takenAt
        merged.gpsLat = gpsLat ?? other.gpsLat
        merged.gpsLng = gpsLng ?? other.gpsLng
        merged.duration = duration ?? other.duration
        merged.altText = altText ?? other.altText
        merged.caption = caption ?? other.caption
        return merged
    }
}

/// Media info kept per object, with the ETag of the version it was computed from.
public protocol MediaInfoStore: Sendable {
    /// The stored record of a key and the ETag it describes, or nil.
    /// - Throws: when the store cannot be read.
    func mediaInfo(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String)?

    /// Stores the computed fields for a version; fields clients set (`altText`, `caption`, and
    /// any filled by PATCH while the computation had none) are kept.
    /// - Throws: when the store cannot be written.
    func saveComputed(_ info: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo

    /// Fills only the fields that are still nil, atomically; returns the record.
    /// - Throws: when the store cannot be written.
    func fill(_ patch: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo
}

/// A ``MediaInfoStore`` in memory, for unit tests.
public final class InMemoryMediaInfoStore: MediaInfoStore {
    private let records = Mutex<[String: (info: MediaInfo, etag: String)]>([:])

    /// Creates an empty store.
    public init() {}

    public func mediaInfo(bucket: String, key: String) async throws -> (info: MediaInfo, etag: String)? {
        records.withLock { $0[bucket + "\u{0}" + key] }
    }

    public func saveComputed(_ info: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        records.withLock { records in
            let id = bucket + "\u{0}" + key
            let merged = MediaInfo.mergingComputed(info, etag: etag, into: records[id])
            records[id] = (merged, etag)
            return merged
        }
    }

    public func fill(_ patch: MediaInfo, bucket: String, key: String, etag: String) async throws -> MediaInfo {
        records.withLock { records in
            let id = bucket + "\u{0}" + key
            let merged = MediaInfo.fillingPatch(patch, etag: etag, into: records[id])
            records[id] = (merged, etag)
            return merged
        }
    }
}

extension MediaInfo {
    /// What to store after computing a version's fields: the computed fields; for the same
    /// version, stored values where the computation found none (filled by PATCH); and the
    /// client's `altText` and `caption` whatever the version. A new version never inherits the
    /// computed facts (size, GPS, …) of an older one.
    public static func mergingComputed(_ computed: MediaInfo, etag: String, into stored: (info: MediaInfo, etag: String)?) -> MediaInfo {
        var merged = computed
        if let stored, stored.etag == etag { merged = computed.filling(from: stored.info) }
        merged.altText = stored?.info.altText
        merged.caption = stored?.info.caption
        return merged
    }

    /// What to store after a PATCH for a version: its record (for another version, only the
    /// client's `altText` and `caption` carry over) with every nil field taken from `patch`.
    public static func fillingPatch(_ patch: MediaInfo, etag: String, into stored: (info: MediaInfo, etag: String)?) -> MediaInfo {
        var base = MediaInfo()
        if let stored {
            if stored.etag == etag {
                base = stored.info
            } else {
                base.altText = stored.info.altText
                base.caption = stored.info.caption
            }
        }
        return base.filling(from: patch)
    }
}
