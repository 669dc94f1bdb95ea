/// Resource limits applied while parsing untrusted XML. Exceeding any of them throws
/// ``XMLParseError`` with code ``XMLParseError/Code/tooLarge``.
public struct XMLLimits: Sendable, Equatable {
    /// Maximum document size in bytes. The default (4 MiB) leaves room for a
    /// CompleteMultipartUpload of 10,000 parts with checksums (≈ 1.5–2 MB).
    public var maxBytes: Int
    /// Maximum element nesting depth (the root is depth 1).
    public var maxDepth: Int
    /// Maximum number of elements in the document.
    public var maxElements: Int
    /// Maximum length in bytes of an element or attribute name (prefix included).
    public var maxNameLength: Int
    /// Maximum number of attributes on one element (namespace declarations included).
    public var maxAttributesPerElement: Int

    /// Makes limits; every argument has a default suited to S3 request documents.
    public init(
        maxBytes: Int = 4 * 1024 * 1024,
        maxDepth: Int = 32,
        maxElements: Int = 200_000,
        maxNameLength: Int = 256,
        maxAttributesPerElement: Int = 32
    ) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.maxNameLength = maxNameLength
        self.maxAttributesPerElement = maxAttributesPerElement
    }
}
