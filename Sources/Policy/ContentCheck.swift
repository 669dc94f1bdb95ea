/// Why an upload's content was refused. Clients see `InvalidArgument` (type) or
/// `EntityTooLarge` (size), with ``message``.
public struct ContentRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The declared (or sniffed) type is not allowed for the key.
        case typeNotAllowed
        /// The first bytes do not carry the declared type's signature.
        case signatureMismatch
        /// The object is larger than the key's rule allows.
        case tooLarge(maxSize: Int64)
    }

    public let kind: Kind
    /// A message fit for the client.
    public let message: String
    public var description: String { message }
}

extension UploadLimits {
    /// Checks a declared length before any byte is read.
    /// - Throws: ``ContentRefusal`` `.tooLarge`.
    public func checkLength(_ length: Int64?) throws(ContentRefusal) {
        if let length, length > maxSize { throw tooLarge }
    }

    /// Checks a declared type before any byte is read: a specific type must be allowed.
    /// - Throws: ``ContentRefusal`` `.typeNotAllowed`.
    public func checkDeclaredType(_ declared: String?) throws(ContentRefusal) {
        guard !MediaKind.isGeneric(declared), let declared else { return }
        guard contentTypes.allows(declared) else {
            throw ContentRefusal(kind: .typeNotAllowed, message: "Content-Type \(MediaKind.normalize(declared)) is not allowed for this key.")
        }
    }

    /// Checks the first bytes of the content against the declared type.
    ///
    /// - A specific declared type must be allowed, and when it has a known signature the bytes
    ///   must carry it (under every rule, `any` included).
    /// - A generic or missing type is replaced by the sniffed one, which must be allowed; when
    ///   nothing is recognized, only a rule allowing any type accepts the content.
    /// - Parameters:
    ///   - declared: the `Content-Type` the client sent, if any.
    ///   - head: the first ``MediaKind/sniffLength`` bytes (fewer only when the content is shorter).
    /// - Returns: the content type to store instead of the declared one, or nil to keep it.
    /// - Throws: ``ContentRefusal`` `.typeNotAllowed` or `.signatureMismatch`.
    public func checkContent(declared: String?, head: some Collection<UInt8>) throws(ContentRefusal) -> String? {
        let sniffed = MediaKind.sniff(head)
        if MediaKind.isGeneric(declared) {
            if let sniffed {
                guard contentTypes.allows(sniffed.mimeType) else {
                    throw ContentRefusal(kind: .typeNotAllowed, message: "Content of type \(sniffed.mimeType) is not allowed for this key.")
                }
                return sniffed.mimeType
            }
            guard contentTypes == .any else {
                throw ContentRefusal(kind: .typeNotAllowed, message: "The content type could not be determined and this key accepts only specific types.")
            }
            return nil
        }
        guard let declared else { return nil }
        try checkDeclaredType(declared)
        if let expected = MediaKind(mimeType: declared), sniffed != expected {
            throw ContentRefusal(kind: .signatureMismatch, message: "The content does not match its declared Content-Type \(MediaKind.normalize(declared)).")
        }
        return nil
    }

    /// The refusal for content over ``maxSize``.
    public var tooLarge: ContentRefusal {
        ContentRefusal(kind: .tooLarge(maxSize: maxSize), message: "Your proposed upload exceeds the maximum allowed size for this key.")
    }
}
