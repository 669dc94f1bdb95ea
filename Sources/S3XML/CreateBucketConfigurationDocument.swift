/// The optional body of CreateBucket:
/// `<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`.
public struct CreateBucketConfigurationDocument: Sendable, Equatable {
    /// `<LocationConstraint>` trimmed; `nil` when absent or empty (S3's us-east-1).
    public var locationConstraint: String?

    /// Makes a document.
    public init(locationConstraint: String? = nil) {
        self.locationConstraint = locationConstraint
    }

    /// Parses a request body. An empty or whitespace-only body is accepted and means
    /// no configuration. Throws ``XMLParseError`` (answer `MalformedXML`) for any XML
    /// error, a wrong root or a repeated `<LocationConstraint>`. Other elements
    /// (`Location`, `Bucket`, tags) are ignored.
    public init(parsing bytes: some Collection<UInt8>, limits: XMLLimits = .init()) throws(XMLParseError) {
        if bytes.allSatisfy(XMLCharacters.isWhitespace) {
            self.init()
            return
        }
        try self.init(element: XMLDocumentParser.parse(bytes, limits: limits))
    }

    /// Reads the document from a parsed root element.
    public init(element root: XMLElementNode) throws(XMLParseError) {
        try root.requireName("CreateBucketConfiguration")
        let value = try root.optionalValue("LocationConstraint")
        locationConstraint = (value?.isEmpty ?? true) ? nil : value
    }
}
