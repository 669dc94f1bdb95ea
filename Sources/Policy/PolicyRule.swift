/// What a rule demands of the keys it matches (SPEC §4).
public struct PolicyRule: Sendable, Equatable {
    /// The keys it covers, relative to the owning tenant's prefix.
    public var pattern: KeyPattern
    /// A consent every read and write needs, if any.
    public var consent: ConsentRequirement?
    /// Content types an upload may have.
    public var contentTypes: ContentTypeSet
    /// Largest object, in bytes.
    public var maxSize: Int64
    /// Longest presigned-URL lifetime for reads (GET, HEAD), in seconds.
    public var presignMaxGET: Int
    /// Longest presigned-URL lifetime for every other method (PUT, …), in seconds.
    public var presignMaxPUT: Int

    /// Creates a rule.
    public init(
        pattern: KeyPattern, consent: ConsentRequirement? = nil, contentTypes: ContentTypeSet = .any,
        maxSize: Int64 = 5 * Self.terabyte, presignMaxGET: Int = 900, presignMaxPUT: Int = 600
    ) {
        self.pattern = pattern
        self.consent = consent
        self.contentTypes = contentTypes
        self.maxSize = maxSize
        self.presignMaxGET = presignMaxGET
        self.presignMaxPUT = presignMaxPUT
    }

    /// Checks the values.
    /// - Throws: ``PolicyConfigurationError`` naming the first invalid one.
    public func validate() throws(PolicyConfigurationError) {
        guard maxSize >= 0 else { throw PolicyConfigurationError("maxSize of '\(pattern)' must not be negative") }
        guard (1...604_800).contains(presignMaxGET), (1...604_800).contains(presignMaxPUT) else {
            throw PolicyConfigurationError("presignMaxTTL of '\(pattern)' must be 1...604800 seconds")
        }
        if let consent {
            let captures = pattern.segments.compactMap { segment -> String? in
                if case .capture(let name) = segment { return name }
                return nil
            }
            guard captures.contains(consent.subjectCapture) else {
                throw PolicyConfigurationError("consent subject '{\(consent.subjectCapture)}' is not a capture of '\(pattern)'")
            }
        }
    }

    /// 10¹² bytes.
    public static let terabyte: Int64 = 1_000_000_000_000
    /// 10⁶ bytes.
    public static let megabyte: Int64 = 1_000_000

    /// The built-in rules of SPEC §4, in matching order.
    public static let defaults: [PolicyRule] = {
        // The patterns are constants; a failure here is a programming error.
        func pattern(_ text: String) -> KeyPattern {
            do { return try KeyPattern(text) } catch { fatalError("built-in pattern \(text): \(error)") }
        }
        func types(_ names: [String]) -> ContentTypeSet {
            do { return try ContentTypeSet(names: names) } catch { fatalError("built-in types: \(error)") }
        }
        return [
            PolicyRule(
                pattern: pattern("selfies/{subject}/**"),
                consent: ConsentRequirement(purpose: "biometric_processing", subjectCapture: "subject"),
                contentTypes: types(["jpeg", "png", "webp", "heic"]), maxSize: 15 * megabyte),
            PolicyRule(
                pattern: pattern("photos/**"),
                contentTypes: types(["jpeg", "png", "webp", "avif", "heic", "tiff", "gif", "mp4", "quicktime"]),
                maxSize: 200 * megabyte),
            PolicyRule(pattern: pattern("**"), contentTypes: .any, maxSize: 5 * terabyte),
        ]
    }()
}

/// A consent a rule requires: its purpose, and which capture names the subject.
public struct ConsentRequirement: Sendable, Equatable {
    public var purpose: String
    /// The name of the pattern capture that holds the subject (`subject` in `selfies/{subject}/**`).
    public var subjectCapture: String

    /// Creates a requirement.
    public init(purpose: String, subjectCapture: String) {
        self.purpose = purpose
        self.subjectCapture = subjectCapture
    }
}
