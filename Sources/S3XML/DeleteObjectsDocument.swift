/// One `<Object>` of a DeleteObjects request.
public struct ObjectToDelete: Sendable, Equatable {
    /// `<Key>` exactly as sent (not trimmed: keys may begin or end with spaces).
    public var key: String
    /// `<VersionId>` (trimmed), if given.
    public var versionId: String?

    /// Makes an entry.
    public init(key: String, versionId: String? = nil) {
        self.key = key
        self.versionId = versionId
    }
}

/// The body of DeleteObjects:
/// `<Delete><Quiet>true</Quiet><Object><Key>…</Key><VersionId>…</VersionId></Object>…</Delete>`.
public struct DeleteObjectsDocument: Sendable, Equatable {
    /// S3's maximum number of keys in one request.
    public static let maxObjects = 1000

    /// `<Quiet>`: report only errors. `false` when absent.
    public var quiet: Bool
    /// The objects to delete, in document order (duplicates kept).
    public var objects: [ObjectToDelete]

    /// Makes a document.
    public init(quiet: Bool = false, objects: [ObjectToDelete]) {
        self.quiet = quiet
        self.objects = objects
    }

    /// Parses a request body. Throws ``XMLParseError`` (answer `MalformedXML`) for any
    /// XML error, a wrong root, no `<Object>`, an object without exactly one `<Key>`,
    /// a `<Quiet>` other than true/false, or more than ``maxObjects`` objects (`tooLarge`).
    /// Unknown elements are ignored.
    public init(parsing bytes: some Collection<UInt8>, limits: XMLLimits = .init()) throws(XMLParseError) {
        try self.init(element: XMLDocumentParser.parse(bytes, limits: limits))
    }

    /// Reads the document from a parsed root element.
    public init(element root: XMLElementNode) throws(XMLParseError) {
        try root.requireName("Delete")
        quiet = try root.optionalSingleChild("Quiet")?.booleanValue() ?? false
        var objects: [ObjectToDelete] = []
        for object in root.children where object.name == "Object" {
            guard objects.count < Self.maxObjects else {
                throw XMLParseError(.tooLarge, "more than \(Self.maxObjects) objects in one DeleteObjects request")
            }
            let key = try object.requiredSingleChild("Key")
            try key.requireNoChildren()
            objects.append(ObjectToDelete(key: key.text, versionId: try object.optionalValue("VersionId")))
        }
        guard !objects.isEmpty else {
            throw XMLParseError(.malformed, "<Delete> without <Object>")
        }
        self.objects = objects
    }
}
