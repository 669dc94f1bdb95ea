import Foundation
import Testing

@testable import Policy

/// Upload content checks (docs/policy.md "Content checks (writes)"), with limits built from the
/// doc's rule table rather than from ``PolicyRule/defaults``.
struct ContentCheckTests {
    static func types(_ names: [String]) -> ContentTypeSet {
        do { return try ContentTypeSet(names: names) } catch { fatalError("\(error)") }
    }

    static let selfies = UploadLimits(contentTypes: types(["jpeg", "png", "webp", "heic"]), maxSize: 15_000_000)
    static let photos = UploadLimits(
        contentTypes: types(["jpeg", "png", "webp", "avif", "heic", "tiff", "gif", "mp4", "quicktime"]), maxSize: 200_000_000)
    static let anything = UploadLimits(contentTypes: .any, maxSize: 5_000_000_000_000)

    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// Accepted; the declared type is kept.
        case keep
        /// Accepted; this type is stored instead of the declared (generic) one.
        case store(String)
        case refuse(ContentRefusal.Kind)

        var description: String {
            switch self {
            case .keep: "keep"
            case .store(let type): "store \(type)"
            case .refuse(let kind): "refuse \(kind)"
            }
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var rule: String
        var limits: UploadLimits
        var declared: String?
        var bytes: String
        var head: [UInt8]
        var outcome: Outcome
        var testDescription: String { "\(rule): \(declared ?? "no type") + \(bytes) bytes → \(outcome)" }
    }

    static func row(_ rule: String, _ declared: String?, _ bytes: String, _ outcome: Outcome) -> Row {
        let limits = switch rule {
        case "selfies": selfies
        case "photos": photos
        default: anything
        }
        let head: [UInt8] = switch bytes {
        case "jpeg": Head.jpeg
        case "png": Head.png
        case "gif": Head.gif
        case "avif": Head.avif
        case "heic": Head.heic
        case "mp4": Head.mp4
        case "html": Head.html
        case "text": Head.text
        case "empty": []
        default: fatalError("no sample \(bytes)")
        }
        return Row(rule: rule, limits: limits, declared: declared, bytes: bytes, head: head, outcome: outcome)
    }

    static let table: [Row] = [
        // A declared type with a signature must match the bytes, under every rule.
        row("photos", "image/jpeg", "png", .refuse(.signatureMismatch)),
        row("any", "image/jpeg", "html", .refuse(.signatureMismatch)),
        row("any", "image/png", "jpeg", .refuse(.signatureMismatch)),
        row("any", "image/jpeg", "empty", .refuse(.signatureMismatch)),
        row("selfies", "image/png", "text", .refuse(.signatureMismatch)),
        row("photos", "video/mp4", "jpeg", .refuse(.signatureMismatch)),
        // Matching bytes: accepted, type kept (parameters ignored).
        row("photos", "image/jpeg", "jpeg", .keep),
        row("photos", "image/jpeg; charset=x", "jpeg", .keep),
        row("photos", "IMAGE/PNG", "png", .keep),
        row("photos", "video/mp4", "mp4", .keep),
        row("selfies", "image/heif", "heic", .keep),
        row("any", "image/gif", "gif", .keep),
        // The declared type must be allowed by the rule.
        row("photos", "text/html", "html", .refuse(.typeNotAllowed)),
        row("selfies", "image/gif", "gif", .refuse(.typeNotAllowed)),
        row("selfies", "image/avif", "avif", .refuse(.typeNotAllowed)),
        row("selfies", "video/mp4", "mp4", .refuse(.typeNotAllowed)),
        // A type without a known signature is only checked against the rule.
        row("any", "text/html", "html", .keep),
        row("any", "application/pdf", "text", .keep),
        // Missing or generic: the sniffed type is checked and stored instead.
        row("photos", "application/octet-stream", "png", .store("image/png")),
        row("photos", nil, "jpeg", .store("image/jpeg")),
        row("selfies", "binary/octet-stream", "heic", .store("image/heic")),
        row("any", "application/octet-stream; x=y", "gif", .store("image/gif")),
        row("any", "", "mp4", .store("video/mp4")),
        row("selfies", "application/octet-stream", "gif", .refuse(.typeNotAllowed)),
        row("selfies", nil, "avif", .refuse(.typeNotAllowed)),
        // Nothing recognized: only a rule allowing any type keeps it.
        row("any", "application/octet-stream", "html", .keep),
        row("any", nil, "empty", .keep),
        row("photos", "application/octet-stream", "html", .refuse(.typeNotAllowed)),
        row("selfies", nil, "text", .refuse(.typeNotAllowed)),
        row("photos", nil, "empty", .refuse(.typeNotAllowed)),
    ]

    @Test(arguments: table)
    func checksContent(_ row: Row) {
        let result: Result<String?, ContentRefusal> = Result { () throws(ContentRefusal) -> String? in try row.limits.checkContent(declared: row.declared, head: row.head) }
        let outcome: Outcome = switch result {
        case .success(let stored): stored.map(Outcome.store) ?? .keep
        case .failure(let refusal): .refuse(refusal.kind)
        }
        #expect(outcome == row.outcome)
        if case .failure(let refusal) = result { #expect(!refusal.message.isEmpty) }
    }

    // MARK: Declared type alone (before any byte is read)

    struct DeclaredRow: Sendable, CustomTestStringConvertible {
        var rule: String
        var limits: UploadLimits
        var declared: String?
        var allowed: Bool
        var testDescription: String { "\(rule): \(declared ?? "no type") → \(allowed ? "allowed" : "refused")" }
    }

    static let declaredTable: [DeclaredRow] = [
        DeclaredRow(rule: "selfies", limits: selfies, declared: nil, allowed: true),
        DeclaredRow(rule: "selfies", limits: selfies, declared: "application/octet-stream", allowed: true),
        DeclaredRow(rule: "selfies", limits: selfies, declared: "image/png", allowed: true),
        DeclaredRow(rule: "selfies", limits: selfies, declared: "IMAGE/PNG; x=y", allowed: true),
        DeclaredRow(rule: "selfies", limits: selfies, declared: "image/gif", allowed: false),
        DeclaredRow(rule: "photos", limits: photos, declared: "video/quicktime", allowed: true),
        DeclaredRow(rule: "photos", limits: photos, declared: "image/tiff", allowed: true),
        DeclaredRow(rule: "photos", limits: photos, declared: "text/html", allowed: false),
        DeclaredRow(rule: "photos", limits: photos, declared: "image/svg+xml", allowed: false),
        DeclaredRow(rule: "any", limits: anything, declared: "text/html", allowed: true),
    ]

    @Test(arguments: declaredTable)
    func checksDeclaredType(_ row: DeclaredRow) {
        let result: Result<Void, ContentRefusal> = Result { () throws(ContentRefusal) -> Void in try row.limits.checkDeclaredType(row.declared) }
        switch result {
        case .success:
            #expect(row.allowed)
        case .failure(let refusal):
            #expect(!row.allowed)
            #expect(refusal.kind == .typeNotAllowed)
        }
    }

    // MARK: Size

    struct LengthRow: Sendable, CustomTestStringConvertible {
        var rule: String
        var limits: UploadLimits
        var length: Int64?
        var allowed: Bool
        var testDescription: String { "\(rule): \(length.map(String.init) ?? "no length") → \(allowed ? "allowed" : "too large")" }
    }

    static let lengthTable: [LengthRow] = [
        LengthRow(rule: "selfies", limits: selfies, length: nil, allowed: true),
        LengthRow(rule: "selfies", limits: selfies, length: 0, allowed: true),
        LengthRow(rule: "selfies", limits: selfies, length: 15_000_000, allowed: true),
        LengthRow(rule: "selfies", limits: selfies, length: 15_000_001, allowed: false),
        LengthRow(rule: "photos", limits: photos, length: 200_000_000, allowed: true),
        LengthRow(rule: "photos", limits: photos, length: 200_000_001, allowed: false),
        LengthRow(rule: "any", limits: anything, length: 5_000_000_000_000, allowed: true),
        LengthRow(rule: "any", limits: anything, length: 5_000_000_000_001, allowed: false),
        LengthRow(rule: "any", limits: anything, length: Int64.max, allowed: false),
    ]

    @Test(arguments: lengthTable)
    func checksLength(_ row: LengthRow) {
        let result: Result<Void, ContentRefusal> = Result { () throws(ContentRefusal) -> Void in try row.limits.checkLength(row.length) }
        switch result {
        case .success:
            #expect(row.allowed)
        case .failure(let refusal):
            #expect(!row.allowed)
            #expect(refusal.kind == .tooLarge(maxSize: row.limits.maxSize))
        }
    }

    @Test func tooLargeNamesTheMaximum() {
        #expect(Self.selfies.tooLarge.kind == .tooLarge(maxSize: 15_000_000))
    }
}
