import Policy
import Storage

/// Content checks of SPEC §4 on every write: the declared type, the first bytes, the size.
extension S3Gateway {
    /// The largest body a write may send: its rule's maximum, within S3's single-request limit.
    func maxLength(_ grant: Grant) -> Int64 {
        min(configuration.maxUploadSize, grant.uploadLimits?.maxSize ?? .max)
    }

    /// Checks what can be checked before any byte is read: the declared type and length.
    /// - Throws: ``ContentRefusal``.
    func screenDeclared(_ grant: Grant, contentType: String?, length: Int64?) throws {
        guard let limits = grant.uploadLimits else { return }
        try limits.checkDeclaredType(contentType)
        try limits.checkLength(length)
    }

    /// Reads the first bytes of an upload and checks them against the declared type.
    /// - Returns: the body to store (every byte, in order) and the attributes to store, whose
    ///   content type is the sniffed one when the declared one was missing or generic.
    /// - Throws: ``ContentRefusal``, or the body's own errors.
    func screenContent(_ grant: Grant, attributes: ObjectAttributes, body: UploadBody) async throws -> (UploadBody, ObjectAttributes) {
        guard grant.uploadLimits != nil else { return (body, attributes) }
        let peeking = PeekingBody(body)
        let head = try await peeking.head(MediaKind.sniffLength)
        return (peeking.uploadBody(), try screenHead(grant, attributes: attributes, head: head))
    }

    /// Checks an upload's first bytes (at least ``MediaKind/sniffLength`` of them, or all)
    /// against the declared type.
    /// - Returns: the attributes to store, whose content type is the sniffed one when the
    ///   declared one was missing or generic.
    /// - Throws: ``ContentRefusal``.
    func screenHead(_ grant: Grant, attributes: ObjectAttributes, head: some Collection<UInt8>) throws -> ObjectAttributes {
        guard let limits = grant.uploadLimits else { return attributes }
        var attributes = attributes
        if let sniffed = try limits.checkContent(declared: attributes.contentType, head: head) {
            attributes.contentType = sniffed
        }
        return attributes
    }

    /// Whether a multipart upload's first bytes must be checked: the rule restricts types, or
    /// the declared type has a known signature.
    func needsSignatureCheck(_ grant: Grant, contentType: String?) -> Bool {
        guard let limits = grant.uploadLimits else { return false }
        return limits.contentTypes != .any || contentType.flatMap(MediaKind.init(mimeType:)) != nil
    }
}
