/// Why an XML document was refused. S3 answers every one of these with `MalformedXML`
/// (the code is for logs, metrics and tests).
public struct XMLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Equatable, Hashable {
        /// Not well-formed XML, invalid UTF-8, or not the expected document shape.
        case malformed
        /// A construct this parser refuses on purpose: DOCTYPE, ENTITY (and other markup
        /// declarations), processing instructions, references to undeclared entities.
        case forbiddenConstruct
        /// Over a ``XMLLimits`` limit or a document-level count limit (e.g. 1000 keys).
        case tooLarge
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation, usually with the byte offset.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }
}
