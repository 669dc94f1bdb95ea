import Foundation
import GatewayCore
import Testing

@testable import Policy

/// Rules, owners, consent and presigned-URL caps (docs/policy.md "Rules", "Consent", "Presigned URLs").
struct RulePolicyTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let purpose = "biometric_processing"
    static let acmeScope = TenantScope(name: "acme", prefix: "acme/")
    static let boltScope = TenantScope(name: "bolt", prefix: "bolt/")
    static let euScope = TenantScope(name: "acme-eu", prefix: "acme/eu/")
    static let tenants = [acmeScope, boltScope]
    static let acme = Principal.tenant(TenantIdentity(name: "acme", accessKeyID: "AKACME", prefix: "acme/", buckets: []))
    static let root = Principal.root(accessKeyID: "ROOT")

    static func consent(_ tenant: String?, _ subject: String, _ purpose: String = RulePolicyTests.purpose) -> ConsentKey {
        ConsentKey(tenant: tenant, subject: subject, purpose: purpose)
    }

    static func pattern(_ text: String) -> KeyPattern {
        do { return try KeyPattern(text) } catch { fatalError("\(error)") }
    }

    // MARK: Owner and rule of a key

    struct OwnerRow: Sendable, CustomTestStringConvertible {
        var key: String
        var tenants: [TenantScope]
        var owner: String?
        var relative: String
        var rule: String
        var consent: ConsentKey?
        var testDescription: String { "'\(key)' → \(owner ?? "no owner") '\(relative)' by \(rule)" }
    }

    static let owners: [OwnerRow] = [
        OwnerRow(key: "acme/selfies/u1/a.jpg", tenants: tenants, owner: "acme", relative: "selfies/u1/a.jpg",
                 rule: "selfies/{subject}/**", consent: consent("acme", "u1")),
        OwnerRow(key: "acme/photos/a.jpg", tenants: tenants, owner: "acme", relative: "photos/a.jpg", rule: "photos/**"),
        OwnerRow(key: "acme/x", tenants: tenants, owner: "acme", relative: "x", rule: "**"),
        OwnerRow(key: "bolt/selfies/u9/b", tenants: tenants, owner: "bolt", relative: "selfies/u9/b",
                 rule: "selfies/{subject}/**", consent: consent("bolt", "u9")),
        // Outside every prefix: no owner, the whole key is matched.
        OwnerRow(key: "selfies/u1/a.jpg", tenants: tenants, owner: nil, relative: "selfies/u1/a.jpg",
                 rule: "selfies/{subject}/**", consent: consent(nil, "u1")),
        OwnerRow(key: "acmeselfies/u1/a", tenants: tenants, owner: nil, relative: "acmeselfies/u1/a", rule: "**"),
        OwnerRow(key: "other/selfies/u1/a", tenants: tenants, owner: nil, relative: "other/selfies/u1/a", rule: "**"),
        OwnerRow(key: "selfies/u1/a", tenants: [], owner: nil, relative: "selfies/u1/a",
                 rule: "selfies/{subject}/**", consent: consent(nil, "u1")),
        // The longest prefix wins, whatever the order of the tenants.
        OwnerRow(key: "acme/eu/selfies/u2/x", tenants: [acmeScope, euScope], owner: "acme-eu", relative: "selfies/u2/x",
                 rule: "selfies/{subject}/**", consent: consent("acme-eu", "u2")),
        OwnerRow(key: "acme/eu/selfies/u2/x", tenants: [euScope, acmeScope], owner: "acme-eu", relative: "selfies/u2/x",
                 rule: "selfies/{subject}/**", consent: consent("acme-eu", "u2")),
        OwnerRow(key: "acme/euro/selfies/u2/x", tenants: [acmeScope, euScope], owner: "acme", relative: "euro/selfies/u2/x", rule: "**"),
        // Keys are bytes, never paths.
        OwnerRow(key: "acme/../bolt/selfies/u1/x", tenants: tenants, owner: "acme", relative: "../bolt/selfies/u1/x", rule: "**"),
        // An empty capture still selects the rule, with an empty subject.
        OwnerRow(key: "acme/selfies//x", tenants: tenants, owner: "acme", relative: "selfies//x",
                 rule: "selfies/{subject}/**", consent: consent("acme", "")),
    ]

    @Test(arguments: owners)
    func classifies(_ row: OwnerRow) {
        let classification = AccessPolicy().classify(key: row.key, tenants: row.tenants)
        #expect(classification.owner?.name == row.owner)
        #expect(classification.relativeKey == row.relative)
        #expect(classification.rule.pattern.description == row.rule)
        #expect(classification.consent == row.consent)
    }

    // MARK: Consent

    struct ConsentRow: Sendable, CustomTestStringConvertible {
        var principal: Principal
        var action: Action
        var key: String
        var consents: [ConsentKey: ConsentTerm]
        var allowed: Bool
        var testDescription: String {
            "\(principal.accessKeyID ?? "anon") \(action) '\(key)' with \(consents.keys.map(\.description).sorted()) → \(allowed)"
        }
    }

    static let forever = ConsentTerm(until: nil)
    static let later = ConsentTerm(until: now.addingTimeInterval(60))
    static let expired = ConsentTerm(until: now.addingTimeInterval(-1))
    static let selfie = "acme/selfies/u1/a.jpg"

    static let consentTable: [ConsentRow] = [
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [:], allowed: false),
        ConsentRow(principal: acme, action: .writeObject, key: selfie, consents: [:], allowed: false),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent("acme", "u1"): forever], allowed: true),
        ConsentRow(principal: acme, action: .writeObject, key: selfie, consents: [consent("acme", "u1"): later], allowed: true),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent("acme", "u1"): expired], allowed: false),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent("acme", "u2"): forever], allowed: false),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent("acme", "u1", "marketing"): forever], allowed: false),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent("bolt", "u1"): forever], allowed: false),
        ConsentRow(principal: acme, action: .readObject, key: selfie, consents: [consent(nil, "u1"): forever], allowed: false),
        // `selfies/u1` itself matches `selfies/{subject}/**`.
        ConsentRow(principal: acme, action: .readObject, key: "acme/selfies/u1", consents: [:], allowed: false),
        // Root is bound too.
        ConsentRow(principal: root, action: .readObject, key: selfie, consents: [:], allowed: false),
        ConsentRow(principal: root, action: .writeObject, key: selfie, consents: [:], allowed: false),
        ConsentRow(principal: root, action: .readObject, key: selfie, consents: [consent("acme", "u1"): forever], allowed: true),
        ConsentRow(principal: root, action: .readObject, key: "selfies/u1/a.jpg", consents: [consent(nil, "u1"): forever], allowed: true),
        ConsentRow(principal: root, action: .readObject, key: "selfies/u1/a.jpg", consents: [consent("acme", "u1"): forever], allowed: false),
        ConsentRow(principal: root, action: .readObject, key: "selfies/u1/a.jpg", consents: [:], allowed: false),
        // Deletes are always allowed; listings need no consent.
        ConsentRow(principal: acme, action: .deleteObject, key: selfie, consents: [:], allowed: true),
        ConsentRow(principal: acme, action: .deleteObject, key: selfie, consents: [consent("acme", "u1"): expired], allowed: true),
        ConsentRow(principal: root, action: .deleteObject, key: selfie, consents: [:], allowed: true),
        ConsentRow(principal: acme, action: .listObjects, key: "acme/selfies/u1/", consents: [:], allowed: true),
        // An empty subject never has a consent, even a recorded one.
        ConsentRow(principal: acme, action: .readObject, key: "acme/selfies//x", consents: [consent("acme", ""): forever], allowed: false),
        ConsentRow(principal: root, action: .writeObject, key: "acme/selfies//x", consents: [consent("acme", ""): forever], allowed: false),
        // Keys outside the consent rule need none.
        ConsentRow(principal: acme, action: .readObject, key: "acme/photos/a.jpg", consents: [:], allowed: true),
        ConsentRow(principal: acme, action: .writeObject, key: "acme/other/selfies/u1/a.jpg", consents: [:], allowed: true),
    ]

    @Test(arguments: consentTable)
    func requiresConsent(_ row: ConsentRow) {
        let facts = RequestFacts(now: Self.now, tenants: Self.tenants, consents: row.consents)
        let result: Result<Grant, Denial> = Result { () throws(Denial) -> Grant in try AccessPolicy().authorize(row.principal, row.action, Resource(bucket: "media", key: row.key), facts: facts) }
        switch result {
        case .success: #expect(row.allowed)
        case .failure(let denial): #expect(!row.allowed, "denied: \(denial)")
        }
    }

    @Test func consentKeysNameTheConsentsToFetch() {
        let keys = ["acme/selfies/u1/a", "acme/photos/x", "selfies/u2/b", "bolt/selfies/u3/c", "acme/x"]
        let found = AccessPolicy().consentKeys(for: keys, tenants: Self.tenants)
        #expect(Set(found) == [Self.consent("acme", "u1"), Self.consent(nil, "u2"), Self.consent("bolt", "u3")])
        #expect(AccessPolicy().consentKeys(for: ["acme/photos/x", "x"], tenants: Self.tenants).isEmpty)
    }

    // MARK: Presigned-URL lifetimes

    /// A config rule before the defaults: same pattern as the selfie default, shorter caps.
    static let shortSelfies = PolicyRule(
        pattern: pattern("selfies/{subject}/**"), consent: ConsentRequirement(purpose: purpose, subjectCapture: "subject"),
        contentTypes: .any, maxSize: 5_000_000, presignMaxGET: 60, presignMaxPUT: 30)

    struct TTLRow: Sendable, CustomTestStringConvertible {
        var configured: Bool
        var principal: Principal
        var action: Action
        var key: String
        var method: String
        var expires: Int
        var allowed: Bool
        var testDescription: String {
            "\(configured ? "config" : "defaults") \(principal.accessKeyID ?? "anon") \(method) \(expires)s '\(key)' → \(allowed)"
        }
    }

    static func ttl(_ method: String, _ expires: Int, _ key: String = "acme/photos/a.jpg", principal: Principal = RulePolicyTests.acme,
                    configured: Bool = false, allowed: Bool) -> TTLRow {
        let action: Action = switch method {
        case "GET", "HEAD": .readObject
        case "DELETE": .deleteObject
        default: .writeObject
        }
        return TTLRow(configured: configured, principal: principal, action: action, key: key, method: method, expires: expires, allowed: allowed)
    }

    static let ttlTable: [TTLRow] = [
        ttl("GET", 900, allowed: true),
        ttl("GET", 901, allowed: false),
        ttl("HEAD", 900, allowed: true),
        ttl("HEAD", 700, allowed: true),
        ttl("HEAD", 901, allowed: false),
        ttl("PUT", 600, allowed: true),
        ttl("PUT", 601, allowed: false),
        ttl("DELETE", 600, allowed: true),
        ttl("DELETE", 700, allowed: false),
        ttl("GET", 900, "acme/x", allowed: true),
        ttl("GET", 901, "acme/x", allowed: false),
        ttl("PUT", 601, "acme/x", allowed: false),
        ttl("GET", 900, selfie, allowed: true),
        ttl("PUT", 601, selfie, allowed: false),
        // Root is bound by the caps too.
        ttl("GET", 901, "acme/photos/a.jpg", principal: root, allowed: false),
        ttl("PUT", 601, "bolt/x", principal: root, allowed: false),
        ttl("GET", 900, "bolt/x", principal: root, allowed: true),
        // A config rule comes before the defaults.
        ttl("GET", 60, selfie, configured: true, allowed: true),
        ttl("GET", 61, selfie, configured: true, allowed: false),
        ttl("HEAD", 61, selfie, configured: true, allowed: false),
        ttl("PUT", 30, selfie, configured: true, allowed: true),
        ttl("PUT", 31, selfie, configured: true, allowed: false),
        ttl("GET", 900, "acme/photos/a.jpg", configured: true, allowed: true),
    ]

    @Test(arguments: ttlTable)
    func capsPresignedLifetime(_ row: TTLRow) {
        let policy = AccessPolicy(rules: row.configured ? [Self.shortSelfies] : [])
        let facts = RequestFacts(
            now: Self.now, tenants: Self.tenants, consents: [Self.consent("acme", "u1"): Self.forever],
            presigned: PresignedFacts(method: row.method, expires: row.expires))
        let result: Result<Grant, Denial> = Result { () throws(Denial) -> Grant in try policy.authorize(row.principal, row.action, Resource(bucket: "media", key: row.key), facts: facts) }
        switch result {
        case .success: #expect(row.allowed)
        case .failure(let denial): #expect(!row.allowed, "denied: \(denial)")
        }
    }

    // MARK: Configured rules, defaults, upload limits

    @Test func configuredRulesComeFirst() throws {
        let policy = AccessPolicy(rules: [Self.shortSelfies])
        #expect(policy.rules == [Self.shortSelfies] + PolicyRule.defaults)
        #expect(policy.classify(key: Self.selfie, tenants: Self.tenants).rule == Self.shortSelfies)

        // Overriding the default without a consent lifts the consent requirement.
        let open = PolicyRule(pattern: Self.pattern("selfies/{subject}/**"))
        let facts = RequestFacts(now: Self.now, tenants: Self.tenants)
        #expect(throws: Never.self) {
            try AccessPolicy(rules: [open]).authorize(Self.acme, .readObject, Resource(bucket: "media", key: Self.selfie), facts: facts)
        }
        #expect(throws: Denial.self) {
            try AccessPolicy().authorize(Self.acme, .readObject, Resource(bucket: "media", key: Self.selfie), facts: facts)
        }
    }

    @Test func defaultsFollowTheRuleTable() throws {
        let rules = PolicyRule.defaults
        try #require(rules.count == 3)
        #expect(rules.map(\.pattern.description) == ["selfies/{subject}/**", "photos/**", "**"])
        #expect(rules[0].consent == ConsentRequirement(purpose: "biometric_processing", subjectCapture: "subject"))
        #expect(rules[1].consent == nil && rules[2].consent == nil)
        #expect(rules.map(\.maxSize) == [15_000_000, 200_000_000, 5_000_000_000_000])
        #expect(rules.allSatisfy { $0.presignMaxGET == 900 && $0.presignMaxPUT == 600 })
        let selfieTypes = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]
        #expect(selfieTypes.allSatisfy(rules[0].contentTypes.allows))
        #expect(!["image/avif", "image/gif", "image/tiff", "video/mp4", "text/html"].contains(where: rules[0].contentTypes.allows))
        let photoTypes = ["image/jpeg", "image/png", "image/webp", "image/avif", "image/heic", "image/tiff", "image/gif", "video/mp4", "video/quicktime"]
        #expect(photoTypes.allSatisfy(rules[1].contentTypes.allows))
        #expect(!rules[1].contentTypes.allows("text/html"))
        #expect(rules[2].contentTypes == .any)
        for rule in rules { #expect(throws: Never.self) { try rule.validate() } }
    }

    @Test func grantCarriesUploadLimitsForWritesOnly() throws {
        let facts = RequestFacts(now: Self.now, tenants: Self.tenants, consents: [Self.consent("acme", "u1"): Self.forever])
        func grant(_ action: Action, _ key: String) throws -> Grant {
            try AccessPolicy().authorize(Self.acme, action, Resource(bucket: "media", key: key), facts: facts)
        }
        #expect(try grant(.readObject, "acme/photos/a.jpg").uploadLimits == nil)
        #expect(try grant(.readObject, Self.selfie).uploadLimits == nil)
        let photo = try #require(try grant(.writeObject, "acme/photos/a.jpg").uploadLimits)
        #expect(photo.maxSize == 200_000_000)
        #expect(photo.contentTypes.allows("video/quicktime") && !photo.contentTypes.allows("text/html"))
        let selfie = try #require(try grant(.writeObject, Self.selfie).uploadLimits)
        #expect(selfie.maxSize == 15_000_000)
        #expect(selfie.contentTypes.allows("image/png") && !selfie.contentTypes.allows("image/gif"))
        let other = try #require(try grant(.writeObject, "acme/x").uploadLimits)
        #expect(other == UploadLimits(contentTypes: .any, maxSize: 5_000_000_000_000))
    }

    @Test func validateRejectsAConsentSubjectThatIsNotACapture() {
        let requirement = ConsentRequirement(purpose: Self.purpose, subjectCapture: "subject")
        #expect(throws: PolicyConfigurationError.self) {
            try PolicyRule(pattern: Self.pattern("photos/**"), consent: requirement).validate()
        }
        #expect(throws: PolicyConfigurationError.self) {
            try PolicyRule(pattern: Self.pattern("selfies/{user}/**"), consent: requirement).validate()
        }
        #expect(throws: Never.self) {
            try PolicyRule(pattern: Self.pattern("selfies/{user}/**"), consent: ConsentRequirement(purpose: Self.purpose, subjectCapture: "user")).validate()
        }
    }
}
