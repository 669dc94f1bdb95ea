/// What applies to one object key: its owning tenant, the rule that matched, and the consent
/// the rule requires for this key.
public struct KeyClassification: Sendable, Equatable {
    /// The tenant whose prefix the key starts with (the longest such prefix), if any.
    public var owner: TenantScope?
    /// The key without the owner's prefix.
    public var relativeKey: String
    /// The first rule whose pattern matches ``relativeKey``.
    public var rule: PolicyRule
    /// The pattern's captures.
    public var captures: [String: String]
    /// The consent this key needs, if its rule requires one.
    public var consent: ConsentKey?

    /// The subject named by the rule's consent capture, if any.
    public var subject: String? { consent?.subject }
}

/// What an upload must satisfy, from the rule of its key.
public struct UploadLimits: Sendable, Equatable {
    /// Allowed content types.
    public var contentTypes: ContentTypeSet
    /// Largest object, in bytes.
    public var maxSize: Int64

    /// Creates limits.
    public init(contentTypes: ContentTypeSet, maxSize: Int64) {
        self.contentTypes = contentTypes
        self.maxSize = maxSize
    }
}
