import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Policy
import PolicyStore
import S3Facade
import SigV4
import Storage
import Testing

/// A gateway whose credentials come from a policy store (root pair + tenant keys), with the
/// control API enabled under an admin token.
struct PolicyHarness {
    static let adminToken = "admin-token-for-tests-only"
    static let selfieConsent = "biometric_processing"

    let store = InMemoryObjectStore(minimumPartSize: 5)
    let policyStore = InMemoryPolicyStore()
    var configuration = GatewayConfiguration()

    /// Adds a tenant with a generated key pair and returns the pair.
    @discardableResult
    func addTenant(_ name: String, prefix: String, buckets: [String] = []) async throws -> SigV4Credentials {
        let key = AccessKeyRecord.generate(tenant: name, now: Date())
        try await policyStore.addTenant(TenantRecord(name: name, prefix: prefix, buckets: buckets, createdAt: Date()), key: key)
        return SigV4Credentials(accessKeyID: key.accessKeyID, secretAccessKey: key.secretAccessKey)
    }

    func grantSelfieConsent(tenant: String, subject: String) async throws {
        try await policyStore.grantConsent(ConsentKey(tenant: tenant, subject: subject, purpose: Self.selfieConsent), until: nil, at: Date())
    }

    func makeApplication() -> some ApplicationProtocol {
        let gateway = S3Gateway(
            configuration: configuration, store: store,
            credentials: DirectoryCredentialProvider(root: GatewayHarness.credentials, store: policyStore),
            policyStore: policyStore,
            control: ControlAccess(adminToken: Self.adminToken, root: GatewayHarness.credentials))
        return Application(responder: gateway)
    }
}

/// Bytes whose first bytes carry a JPEG or PNG signature (enough for the sniffer).
private let jpegBytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x11, count: 96)
private let pngBytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0x22, count: 92)

private struct TenantCreatedJSON: Decodable { var accessKeyId: String; var secretAccessKey: String }
private struct ShareLinkJSON: Decodable { var token: String; var url: String }
private struct UploadURLJSON: Decodable { var uploadUrl: String; var headers: [String: String] }

private func decodeJSON<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
}

extension SignedClient {
    /// A copy of this client that signs with another key pair.
    func signing(as credentials: SigV4Credentials) -> SignedClient {
        var copy = self
        copy.credentials = credentials
        return copy
    }

    /// A control API request with `Authorization: Bearer <token>` and a JSON body.
    func admin(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, token: String = PolicyHarness.adminToken) async throws -> TestResponse {
        var headers = [("authorization", "Bearer \(token)")]
        if json != nil { headers.append(("content-type", "application/json")) }
        return try await raw(method, path, headers: headers, body: json.map { Array($0.utf8) } ?? [])
    }
}

/// Issue 3 through the whole request path: tenants, consent, content checks, TTL caps, control API.
struct PolicyEnforcementTests {
    // MARK: Tenants

    @Test func tenantIsConfinedToItsPrefixAndNeverCreatesBuckets() async throws {
        let harness = PolicyHarness()
        let acme = try await harness.addTenant("acme", prefix: "acme/")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            let tenant = root.signing(as: acme)
            #expect(try await root.send(.put, "/media").status == .ok)
            #expect(try await root.send(.put, "/media/bolt/x", body: Array("bolt's".utf8)).status == .ok)

            for method in [HTTPRequest.Method.get, .delete] {
                let outside = try await tenant.send(method, "/media/bolt/x")
                #expect(outside.status == .forbidden, "\(method)")
                #expect(outside.xmlValue("Code") == "AccessDenied", "\(method)")
            }
            let put = try await tenant.send(.put, "/media/bolt/y", body: Array("nope".utf8))
            #expect(put.status == .forbidden)
            #expect(put.xmlValue("Code") == "AccessDenied")
            #expect(try await root.send(.get, "/media/bolt/x").text == "bolt's")
            #expect(try await root.send(.head, "/media/bolt/y").status == .notFound)
            // A look-alike prefix is outside too: keys compare as bytes.
            #expect(try await tenant.send(.put, "/media/acmex/y", body: [1]).status == .forbidden)
            #expect(try await tenant.send(.get, "/media?list-type=2").status == .forbidden)

            let create = try await tenant.send(.put, "/tenantbucket")
            #expect(create.status == .forbidden)
            #expect(create.xmlValue("Code") == "AccessDenied")
            #expect(try await root.send(.head, "/tenantbucket").status == .notFound)

            #expect(try await tenant.send(.put, "/media/acme/x", body: Array("mine".utf8)).status == .ok)
            let get = try await tenant.send(.get, "/media/acme/x")
            #expect(get.status == .ok)
            #expect(get.text == "mine")
            #expect(try await tenant.send(.get, "/media?list-type=2&prefix=acme%2F").status == .ok)
            #expect(try await tenant.send(.delete, "/media/acme/x").status == .noContent)
        }
    }

    @Test func removedTenantAndRotatedKeysStopAtTheNextRequest() async throws {
        let harness = PolicyHarness()
        let acme = try await harness.addTenant("acme", prefix: "acme/")
        let bolt = try await harness.addTenant("bolt", prefix: "bolt/")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            #expect(try await root.signing(as: acme).send(.put, "/media/acme/x", body: [1]).status == .ok)
            #expect(try await harness.policyStore.removeTenant(named: "acme"))
            let removed = try await root.signing(as: acme).send(.get, "/media/acme/x")
            #expect(removed.status == .forbidden)
            #expect(removed.xmlValue("Code") == "InvalidAccessKeyId")

            #expect(try await root.signing(as: bolt).send(.put, "/media/bolt/x", body: [1]).status == .ok)
            let newKey = AccessKeyRecord.generate(tenant: "bolt", now: Date())
            try await harness.policyStore.replaceKeys(ofTenant: "bolt", with: newKey)
            let old = try await root.signing(as: bolt).send(.get, "/media/bolt/x")
            #expect(old.status == .forbidden)
            #expect(old.xmlValue("Code") == "InvalidAccessKeyId")
            let rotated = root.signing(as: SigV4Credentials(accessKeyID: newKey.accessKeyID, secretAccessKey: newKey.secretAccessKey))
            #expect(try await rotated.send(.get, "/media/bolt/x").status == .ok)
            #expect(try await rotated.send(.put, "/media/bolt/y", body: [2]).status == .ok)
        }
    }

    // MARK: Consent

    @Test func consentGatesReadsAndWritesButNotDeletes() async throws {
        let harness = PolicyHarness()
        try await harness.addTenant("acme", prefix: "acme/")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            let key = "/media/acme/selfies/u1/a.jpg"
            let refused = try await root.send(.put, key, headers: [("content-type", "image/jpeg")], body: jpegBytes)
            #expect(refused.status == .forbidden)
            #expect(refused.xmlValue("Code") == "AccessDenied")

            try await harness.grantSelfieConsent(tenant: "acme", subject: "u1")
            #expect(try await root.send(.put, key, headers: [("content-type", "image/jpeg")], body: jpegBytes).status == .ok)
            #expect(try await root.send(.get, key).status == .ok)
            // Another subject's consent does not cover this one.
            #expect(try await root.send(.put, "/media/acme/selfies/u2/a.jpg", headers: [("content-type", "image/jpeg")], body: jpegBytes).status == .forbidden)

            let key1 = ConsentKey(tenant: "acme", subject: "u1", purpose: PolicyHarness.selfieConsent)
            #expect(try await harness.policyStore.revokeConsent(key1))
            let afterRevoke = try await root.send(.get, key)
            #expect(afterRevoke.status == .forbidden)
            #expect(afterRevoke.xmlValue("Code") == "AccessDenied")
            #expect(try await root.send(.delete, key).status == .noContent)
            try await harness.grantSelfieConsent(tenant: "acme", subject: "u1")
            #expect(try await root.send(.head, key).status == .notFound)
        }
    }

    // MARK: Content checks

    @Test func contentTypeMustMatchTheBytesAndTheRule() async throws {
        let harness = PolicyHarness()
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            let lying = try await root.send(.put, "/media/photos/p.jpg", headers: [("content-type", "image/jpeg")], body: pngBytes)
            #expect(lying.status == .badRequest)
            #expect(lying.text.contains("<Code>InvalidArgument</Code>"))
            #expect(lying.xmlValue("ArgumentName") == "Content-Type")
            #expect(try await root.send(.get, "/media/photos/p.jpg").status == .notFound)

            let notAllowed = try await root.send(.put, "/media/photos/t.txt", headers: [("content-type", "text/plain")], body: Array("hi".utf8))
            #expect(notAllowed.xmlValue("Code") == "InvalidArgument")

            #expect(try await root.send(.put, "/media/photos/q", body: pngBytes).status == .ok)
            let head = try await root.send(.head, "/media/photos/q")
            #expect(head.status == .ok)
            #expect(head.headers[.contentType] == "image/png")

            let get = try await root.send(.get, "/media/photos/q")
            #expect(get.status == .ok)
            #expect(Array(get.body.readableBytesView) == pngBytes)
            #expect(get.headers[.init("x-content-type-options")!] == "nosniff")
        }
    }

    @Test func oversizedSelfieIsRefusedBeforeTheBody() async throws {
        let harness = PolicyHarness()
        try await harness.addTenant("acme", prefix: "acme/")
        try await harness.grantSelfieConsent(tenant: "acme", subject: "u1")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            // No body: the router client then keeps the declared Content-Length as sent.
            let big = try await root.send(.put, "/media/acme/selfies/u1/big.jpg", headers: [
                ("content-type", "image/jpeg"), ("content-length", String(16_000_000)),
            ])
            #expect(big.status == .badRequest)
            #expect(big.xmlValue("Code") == "EntityTooLarge")
            #expect(try await root.send(.head, "/media/acme/selfies/u1/big.jpg").status == .notFound)
        }
    }

    // MARK: Presigned TTL caps

    @Test func presignedLifetimeIsCappedByTheRule() async throws {
        let harness = PolicyHarness()
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            #expect(try await root.send(.put, "/media/photos/q", body: pngBytes).status == .ok)

            let atCap = try await root.raw(.get, root.presigned(.get, "/media/photos/q", expires: 900))
            #expect(atCap.status == .ok)
            #expect(Array(atCap.body.readableBytesView) == pngBytes)
            let overCap = try await root.raw(.get, root.presigned(.get, "/media/photos/q", expires: 901))
            #expect(overCap.status == .forbidden)
            #expect(overCap.xmlValue("Code") == "AccessDenied")

            #expect(try await root.raw(.put, root.presigned(.put, "/media/photos/r", expires: 600), body: pngBytes).status == .ok)
            #expect(try await root.raw(.put, root.presigned(.put, "/media/photos/s", expires: 601), body: pngBytes).status == .forbidden)
            #expect(try await root.send(.head, "/media/photos/s").status == .notFound)
        }
    }

    // MARK: Control API

    @Test func controlCreatesTenantsOnlyWithTheAdminToken() async throws {
        let harness = PolicyHarness()
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            let body = #"{"name":"acme","prefix":"acme/"}"#
            let anonymous = try await root.raw(.post, "/_mediagate/v1/tenants", headers: [("content-type", "application/json")], body: Array(body.utf8))
            #expect(anonymous.status == .unauthorized)
            #expect(try await root.admin(.post, "/_mediagate/v1/tenants", json: body, token: "wrong").status == .unauthorized)
            // Root's S3 signature is not the admin token.
            #expect(try await root.send(.post, "/_mediagate/v1/tenants", body: Array(body.utf8)).status == .forbidden)

            let created = try await root.admin(.post, "/_mediagate/v1/tenants", json: body)
            #expect(created.status == .created)
            let pair = try decodeJSON(TenantCreatedJSON.self, created)
            let tenant = root.signing(as: SigV4Credentials(accessKeyID: pair.accessKeyId, secretAccessKey: pair.secretAccessKey))
            #expect(try await tenant.send(.put, "/media/acme/x", body: Array("via control".utf8)).status == .ok)
            #expect(try await tenant.send(.put, "/media/other/x", body: [1]).status == .forbidden)
            #expect(try await root.admin(.post, "/_mediagate/v1/tenants", json: body).status == .conflict)
        }
    }

    @Test func tenantSignedConsentOnlyForItself() async throws {
        let harness = PolicyHarness()
        let acme = try await harness.addTenant("acme", prefix: "acme/")
        try await harness.addTenant("bolt", prefix: "bolt/")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            let tenant = root.signing(as: acme)
            _ = try await root.send(.put, "/media")
            let selfie = "/media/acme/selfies/u1/a.jpg"
            #expect(try await tenant.send(.put, selfie, headers: [("content-type", "image/jpeg")], body: jpegBytes).status == .forbidden)

            #expect(try await tenant.send(.put, "/_mediagate/v1/consents/acme/u1/biometric_processing").status == .noContent)
            #expect(try await tenant.send(.put, selfie, headers: [("content-type", "image/jpeg")], body: jpegBytes).status == .ok)

            let foreign = try await tenant.send(.put, "/_mediagate/v1/consents/bolt/u1/biometric_processing")
            #expect(foreign.status == .forbidden)
            let stored = try await harness.policyStore.consents([ConsentKey(tenant: "bolt", subject: "u1", purpose: PolicyHarness.selfieConsent)])
            #expect(stored.isEmpty)

            #expect(try await tenant.send(.delete, "/_mediagate/v1/consents/acme/u1/biometric_processing").status == .noContent)
            #expect(try await tenant.send(.get, selfie).status == .forbidden)
        }
    }

    @Test func shareLinkServesUntilDeleted() async throws {
        let harness = PolicyHarness()
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            #expect(try await root.send(.put, "/media/docs/s.txt", body: Array("shared bytes".utf8)).status == .ok)

            let created = try await root.admin(.post, "/_mediagate/v1/share-links", json: #"{"bucket":"media","key":"docs/s.txt"}"#)
            #expect(created.status == .created)
            let link = try decodeJSON(ShareLinkJSON.self, created)
            let path = try #require(URLComponents(string: link.url)?.path)
            #expect(path == "/_mediagate/s/\(link.token)")

            let served = try await root.raw(.get, path)
            #expect(served.status == .ok)
            #expect(served.text == "shared bytes")
            let ranged = try await root.raw(.get, path, headers: [("range", "bytes=0-5")])
            #expect(ranged.status == .partialContent)
            #expect(ranged.text == "shared")

            #expect(try await root.admin(.delete, "/_mediagate/v1/share-links/\(link.token)").status == .noContent)
            let gone = try await root.raw(.get, path)
            #expect(gone.status == .notFound)
            #expect(gone.xmlValue("Code") == "NoSuchKey")
            #expect(try await root.admin(.delete, "/_mediagate/v1/share-links/\(link.token)").status == .notFound)
        }
    }

    /// `response-content-*` overrides are for signed requests only (as in S3): an anonymous share-link
    /// user must not turn an object into `text/html` on the gateway's origin.
    @Test func shareLinkIgnoresResponseOverrides() async throws {
        let harness = PolicyHarness()
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            _ = try await root.send(.put, "/media/docs/h.txt", headers: [("content-type", "text/plain")], body: Array("<script>1</script>".utf8))
            let created = try await root.admin(.post, "/_mediagate/v1/share-links", json: #"{"bucket":"media","key":"docs/h.txt"}"#)
            let link = try decodeJSON(ShareLinkJSON.self, created)
            let response = try await root.raw(.get, "/_mediagate/s/\(link.token)?response-content-type=text%2Fhtml")
            #expect(response.headers[.contentType] != "text/html")
        }
    }

    @Test func uploadURLsAreRateLimitedPerSubject() async throws {
        var configuration = GatewayConfiguration()
        configuration.uploadURLsPerMinute = 3
        let harness = PolicyHarness(configuration: configuration)
        try await harness.addTenant("acme", prefix: "acme/")
        try await harness.grantSelfieConsent(tenant: "acme", subject: "u1")
        try await harness.grantSelfieConsent(tenant: "acme", subject: "u2")
        try await harness.makeApplication().test(.router) { client in
            let root = SignedClient(client: client)
            _ = try await root.send(.put, "/media")
            func request(_ subject: String) async throws -> TestResponse {
                try await root.admin(.post, "/_mediagate/v1/upload-urls",
                                     json: #"{"bucket":"media","key":"acme/selfies/\#(subject)/a.jpg","contentType":"image/jpeg"}"#)
            }
            let first = try await request("u1")
            #expect(first.status == .ok)
            let issued = try decodeJSON(UploadURLJSON.self, first)
            #expect(issued.headers["Content-Type"] == "image/jpeg")
            let components = try #require(URLComponents(string: issued.uploadUrl))
            let target = components.percentEncodedPath + "?" + (components.percentEncodedQuery ?? "")
            #expect(try await root.raw(.put, target, headers: [("content-type", "image/jpeg")], body: jpegBytes).status == .ok)

            #expect(try await request("u1").status == .ok)
            #expect(try await request("u1").status == .ok)
            let limited = try await request("u1")
            #expect(limited.status == .tooManyRequests)
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap(Int.init))
            #expect(retryAfter >= 1 && retryAfter <= 60)
            #expect(limited.text.contains("\"SlowDown\""))
            // Another subject has its own budget.
            #expect(try await request("u2").status == .ok)
        }
    }
}
