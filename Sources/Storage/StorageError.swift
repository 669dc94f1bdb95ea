/// An error raised by an ``ObjectStore``.
///
/// Storage speaks its own vocabulary; the S3 facade maps these codes to S3 error codes in one table.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Equatable {
        case noSuchBucket
        case bucketAlreadyExists
        case bucketNotEmpty
        case noSuchKey
        /// A write precondition (`If-None-Match: *`, `If-Match`) did not hold at commit time.
        case preconditionFailed
        case noSuchUpload
        /// A part named in a completion is missing or its ETag differs.
        case invalidPart
        /// Parts in a completion are not in ascending order.
        case invalidPartOrder
        /// A part other than the last is smaller than the minimum part size.
        case entityTooSmall
        /// The requested byte range does not overlap the object.
        case invalidRange
        /// The request body ended early or broke while it was being stored.
        case incompleteBody
        /// An I/O or database failure; details are logged, never sent to clients.
        case internalError
        /// The upstream store asked to slow down (S3 `SlowDown`), also after retries.
        case slowDown
        /// The upstream store could not be reached or failed (5xx, timeout, refused), also after retries.
        case serviceUnavailable
        /// The upstream store refused a request for a reason S3 clients should see (its detail
        /// names the upstream code), e.g. a key it cannot store.
        case upstreamRefused
    }

    /// What went wrong.
    public let code: Code
    /// Detail for logs; never sent to clients for ``Code/internalError``.
    public let detail: String

    /// Creates an error.
    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)" }
}
