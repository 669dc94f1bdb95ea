/// Why a variant could not be made. The facade maps these to S3 errors.
public struct VariantError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// libvips cannot decode the source (corrupt, truncated, unsupported, blocked loader).
        case invalidImage
        /// The source exceeds the byte or pixel limits.
        case imageTooLarge
        /// Too many derivations are waiting: try again later.
        case busy
    }

    public let code: Code
    /// For logs: libvips' own text may name internals; clients get a fixed message.
    public let detail: String
    public var description: String { "\(code): \(detail)" }

    /// Creates an error.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
}
