import Crypto
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Integrity
import Logging
import NIOCore
import Policy
import PolicyStore
import SigV4

/// Who called the control API.
enum ControlCaller {
    /// The admin token: every tenant; URLs are signed with root's pair.
    case admin
    /// A tenant's signature: that tenant only; URLs are signed with the tenant's pair.
    case tenant(TenantIdentity, secret: String)

    /// The tenant's name, nil for the admin.
    var tenantName: String? {
        if case .tenant(let identity, _) = self { return identity.name }
        return nil
    }
}

extension S3Gateway {
    /// `/_mediagate/health`, `/ready` and `/metrics` need no auth; `/_mediagate/v1/*` is the
    /// control API (SPEC §5); `/_mediagate/s/{token}` serves share links.
    func controlResponse(rawPath: Substring, rawQuery: Substring, request: Request, requestID: String, logger: Logger) async -> Response {
        let path = String(rawPath)
        let method = request.method
        let isRead = method == .get || method == .head
        if isRead && path == "/_mediagate/health" {
            return Self.json(.ok, #"{"status":"ok"}"#)
        }
        if isRead && path == "/_mediagate/ready" {
            let ready = await readiness()
            return ready ? Self.json(.ok, #"{"status":"ready"}"#) : Self.json(.serviceUnavailable, #"{"status":"starting"}"#)
        }
        if method == .get && path == "/_mediagate/metrics" {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        if path.hasPrefix("/_mediagate/s/") {
            return await serveShareLink(token: String(path.dropFirst("/_mediagate/s/".count)), rawPath: rawPath, rawQuery: rawQuery,
                                        request: request, requestID: requestID, logger: logger)
        }
        if path.hasPrefix("/_mediagate/v1/") {
            do {
                return try await controlV1(path: path, rawPath: rawPath, rawQuery: rawQuery, request: request, logger: logger)
            } catch let error as ControlError {
                if error.status == .unauthorized || error.status == .forbidden {
                    logger.info("control request refused", metadata: ["status": "\(error.status.code)", "reason": "\(error.message)"])
                }
                return ControlJSON.response(for: error)
            } catch let error as S3Error where error.code == .accessDenied {
                return ControlJSON.response(for: .forbidden)
            } catch let error as S3Error {
                return ControlJSON.response(for: ControlError(status: error.code.status, code: error.code.rawValue, message: error.message))
            } catch {
                let mapped = ErrorMapping.s3Error(for: error, logger: logger)
                return ControlJSON.response(for: ControlError(status: mapped.code.status, code: mapped.code.rawValue, message: mapped.message))
            }
        }
        return ControlJSON.response(for: .notFound)
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Routing

    private func controlV1(path: String, rawPath: Substring, rawQuery: Substring, request: Request, logger: Logger) async throws -> Response {
        guard let control else { throw ControlError.notFound }
        if path.hasPrefix("/_mediagate/v1/media/") {
            return try await mediaRequest(path: path, rawPath: rawPath, rawQuery: rawQuery, request: request, control: control, logger: logger)
        }
        let segments = try path.dropFirst("/_mediagate/v1/".count).split(separator: "/", omittingEmptySubsequences: false).map { segment in
            guard let decoded = PercentEncoding.decode(segment, plusAsSpace: false), !decoded.isEmpty else {
                throw ControlError.invalid("Malformed path segment.")
            }
            return decoded
        }
        let (caller, body) = try await authenticateControl(request, rawPath: rawPath, rawQuery: rawQuery, control: control)
        switch (request.method, segments.first ?? "", segments.count) {
        case (.post, "tenants", 1):
            return try await createTenant(caller: caller, body: body)
        case (.put, "consents", 4), (.delete, "consents", 4):
            return try await changeConsent(caller: caller, tenant: segments[1], subject: segments[2], purpose: segments[3],
                                           grant: request.method == .put, body: body)
        case (.post, "upload-urls", 1):
            return try await createUploadURL(caller: caller, control: control, request: request, body: body, logger: logger)
        case (.post, "download-urls", 1):
            return try await createDownloadURL(caller: caller, control: control, request: request, body: body, logger: logger)
        case (.post, "share-links", 1):
            return try await createShareLink(caller: caller, request: request, body: body, logger: logger)
        case (.delete, "share-links", 2):
            return try await deleteShareLink(caller: caller, token: segments[1])
        default:
            throw ControlError.notFound
        }
    }

    /// Checks a control request's credentials, then reads its body (an unauthenticated caller
    /// does not get its body read) and checks it against a signed payload hash.
    func authenticateControl(_ request: Request, rawPath: Substring, rawQuery: Substring, control: ControlAccess) async throws -> (ControlCaller, [UInt8]) {
        let (caller, payload) = try await controlCaller(request, rawPath: rawPath, rawQuery: rawQuery, control: control)
        let body = try await collectControlBody(request)
        if case .sha256(let expected) = payload, Hex.encode(SHA256.hash(data: body)) != expected.lowercased() {
            throw ControlError(status: .badRequest, code: "XAmzContentSHA256Mismatch", message: "The body does not match x-amz-content-sha256.")
        }
        return (caller, body)
    }

    /// Reads a control request's JSON body (at most 64 KiB).
    private func collectControlBody(_ request: Request) async throws -> [UInt8] {
        let limit = 64 * 1024
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= limit else {
                throw ControlError(status: .contentTooLarge, code: "EntityTooLarge", message: "Control requests take at most 64 KiB.")
            }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    /// Authenticates a control request: the admin bearer token, or a SigV4 header signature.
    /// - Returns: the caller, and how a signed request's body must hash.
    private func controlCaller(_ request: Request, rawPath: Substring, rawQuery: Substring, control: ControlAccess) async throws -> (ControlCaller, SigV4PayloadMode) {
        guard let authorization = request.headers[.authorization] else { throw ControlError.unauthorized }
        if authorization.hasPrefix("Bearer ") {
            let token = authorization.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
            guard ConstantTime.equals(token, control.adminToken) else { throw ControlError.unauthorized }
            return (.admin, .unsigned)
        }
        let sigRequest = sigV4Request(request.head, rawPath: rawPath, rawQuery: rawQuery)
        let auth: SigV4Authenticated
        let credential: StoredCredential
        do {
            guard let parsed = try verifier.parse(sigRequest), parsed.kind == .header,
                let found = try await credentials.credential(for: parsed.accessKeyID)
            else { throw ControlError.unauthorized }
            credential = found
            auth = try verifier.verify(parsed, request: sigRequest, secretAccessKey: found.secretAccessKey, now: Date())
        } catch let error as ControlError {
            throw error
        } catch let error as SigV4Error {
            throw ControlError(status: .unauthorized, code: "Unauthorized", message: error.message)
        }
        switch auth.payload {
        case .sha256, .unsigned: break
        case .streamingSigned, .streamingSignedTrailer, .streamingUnsignedTrailer:
            throw ControlError.invalid("Control requests take a plain JSON body, not aws-chunked.")
        }
        switch credential.principal {
        case .tenant(let identity): return (.tenant(identity, secret: credential.secretAccessKey), auth.payload)
        case .root:
            // SPEC §5: the admin token or a tenant's signature; root's S3 key is neither.
            throw ControlError(status: .forbidden, code: "AccessDenied", message: "The control API takes the admin token or a tenant's signature.")
        case .anonymous: throw ControlError.unauthorized
        }
    }

    /// The request as SigV4 sees it.
    func sigV4Request(_ head: HTTPRequest, rawPath: Substring, rawQuery: Substring) -> SigV4Request {
        SigV4Request(method: head.method.rawValue, rawPath: String(rawPath), rawQuery: String(rawQuery), headers: Self.sigV4Headers(head))
    }

    /// A request's headers as SigV4 takes them: `Host` (HTTP types keep it as the authority)
    /// and every field.
    static func sigV4Headers(_ head: HTTPRequest) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(head.headerFields.count + 1)
        if let authority = head.authority { headers.append(("host", authority)) }
        for field in head.headerFields { headers.append((field.name.rawName, field.value)) }
        return headers
    }

    // MARK: Tenants and consents

    private func createTenant(caller: ControlCaller, body: [UInt8]) async throws -> Response {
        guard case .admin = caller else { throw ControlError.forbidden }
        let input = try ControlJSON.decode(CreateTenantBody.self, from: body)
        let now = Date()
        let tenant = TenantRecord(name: input.name, prefix: input.prefix, buckets: input.buckets ?? [], createdAt: now)
        let key = AccessKeyRecord.generate(tenant: input.name, now: now)
        do {
            try await policyStore.addTenant(tenant, key: key)
        } catch let error as PolicyStoreError {
            switch error.code {
            case .tenantExists: throw ControlError(status: .conflict, code: "TenantAlreadyExists", message: error.message)
            case .prefixOverlap: throw ControlError(status: .conflict, code: "PrefixOverlap", message: error.message)
            case .invalid, .noSuchTenant: throw ControlError.invalid(error.message)
            }
        }
        return ControlJSON.response(.created, TenantCreated(
            name: tenant.name, prefix: tenant.prefix, buckets: tenant.buckets, accessKeyId: key.accessKeyID,
            secretAccessKey: key.secretAccessKey))
    }

    private func changeConsent(caller: ControlCaller, tenant: String, subject: String, purpose: String, grant: Bool, body: [UInt8]) async throws -> Response {
        if let own = caller.tenantName, own != tenant { throw ControlError.forbidden }
        guard try await policyStore.tenants().contains(where: { $0.name == tenant }) else {
            throw ControlError(status: .notFound, code: "NoSuchTenant", message: "No tenant named \(tenant).")
        }
        let key = ConsentKey(tenant: tenant, subject: subject, purpose: purpose)
        if grant {
            let input = try ControlJSON.decode(ConsentBody.self, from: body)
            var until: Date?
            if let text = input.until {
                guard let parsed = ControlJSON.parseTime(text) else { throw ControlError.invalid("until must be an RFC 3339 time.") }
                until = parsed
            }
            try await policyStore.grantConsent(key, until: until, at: Date())
        } else {
            _ = try await policyStore.revokeConsent(key)
        }
        return Response(status: .noContent)
    }
}
