import Crypto
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Integrity
import Logging
import Policy
import PolicyStore
import SigV4

/// Presigned upload and download URLs and share links (SPEC §5).
extension S3Gateway {
    func createUploadURL(caller: ControlCaller, control: ControlAccess, request: Request, body: [UInt8], logger: Logger) async throws -> Response {
        let input = try ControlJSON.decode(UploadURLBody.self, from: body)
        let tenants = try await policyStore.tenants().map(\.scope)
        let grant = try await authorize(
            principal(of: caller, control: control), .writeObject, bucket: input.bucket, key: input.key, tenants: tenants,
            presigned: nil, logger: logger, operation: "CreateUploadURL")
        let classification = policy.classify(key: input.key, tenants: tenants)
        let expires = input.expiresInSeconds ?? min(600, classification.rule.presignMaxPUT)
        guard (1...classification.rule.presignMaxPUT).contains(expires) else {
            throw ControlError.invalid("expiresInSeconds must be 1...\(classification.rule.presignMaxPUT) for this key.")
        }
        do {
            try screenDeclared(grant, contentType: input.contentType, length: input.contentLength)
        } catch let refusal as ContentRefusal {
            let code = if case .tooLarge = refusal.kind { "EntityTooLarge" } else { "InvalidArgument" }
            throw ControlError(status: .badRequest, code: code, message: refusal.message)
        }
        let limitKey = "\(classification.owner?.name ?? "-")/\(classification.subject ?? "")"
        if let wait = uploadURLLimiter.acquire(limitKey) {
            let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
            throw ControlError(status: .tooManyRequests, code: "SlowDown", message: "Too many upload URLs for this subject; retry later.", retryAfter: seconds)
        }
        var headers: [(name: String, value: String)] = []
        if let contentType = input.contentType { headers.append((name: "Content-Type", value: contentType)) }
        let url = signer(for: caller, control: control).presignedURL(
            method: "PUT", scheme: configuration.scheme, host: publicHost(request), bucket: input.bucket, key: input.key,
            expires: expires, date: Date(), headers: headers)
        return ControlJSON.response(.ok, UploadURLCreated(
            uploadUrl: url, key: input.key, expiresInSeconds: expires,
            headers: Dictionary(uniqueKeysWithValues: headers.map { ($0.name, $0.value) })))
    }

    func createDownloadURL(caller: ControlCaller, control: ControlAccess, request: Request, body: [UInt8], logger: Logger) async throws -> Response {
        let input = try ControlJSON.decode(DownloadURLBody.self, from: body)
        let tenants = try await policyStore.tenants().map(\.scope)
        _ = try await authorize(
            principal(of: caller, control: control), .readObject, bucket: input.bucket, key: input.key, tenants: tenants,
            presigned: nil, logger: logger, operation: "CreateDownloadURL")
        let rule = policy.classify(key: input.key, tenants: tenants).rule
        let expires = input.expiresInSeconds ?? min(900, rule.presignMaxGET)
        guard (1...rule.presignMaxGET).contains(expires) else {
            throw ControlError.invalid("expiresInSeconds must be 1...\(rule.presignMaxGET) for this key.")
        }
        let url = signer(for: caller, control: control).presignedURL(
            method: "GET", scheme: configuration.scheme, host: publicHost(request), bucket: input.bucket, key: input.key,
            expires: expires, date: Date())
        return ControlJSON.response(.ok, DownloadURLCreated(url: url, expiresInSeconds: expires))
    }

    func createShareLink(caller: ControlCaller, request: Request, body: [UInt8], logger: Logger) async throws -> Response {
        guard let control else { throw ControlError.notFound }
        let input = try ControlJSON.decode(ShareLinkBody.self, from: body)
        let lifetime = input.expiresInSeconds ?? configuration.shareLinkDefaultTTL
        guard (1...configuration.shareLinkMaxTTL).contains(lifetime) else {
            throw ControlError.invalid("expiresInSeconds must be 1...\(configuration.shareLinkMaxTTL).")
        }
        let tenants = try await policyStore.tenants().map(\.scope)
        _ = try await authorize(
            principal(of: caller, control: control), .readObject, bucket: input.bucket, key: input.key, tenants: tenants,
            presigned: nil, logger: logger, operation: "CreateShareLink")
        var generator = SystemRandomNumberGenerator()
        let tokenBytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let token = Base64.encode(tokenBytes)
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let now = Date()
        let expiresAt = now.addingTimeInterval(TimeInterval(lifetime))
        let creator: ShareLinkCreator = caller.tenantName.map { .tenant($0) } ?? .root
        try await policyStore.addShareLink(ShareLinkRecord(
            tokenHash: Self.tokenHash(token), bucket: input.bucket, key: input.key, creator: creator, expiresAt: expiresAt, createdAt: now))
        let url = "\(configuration.scheme)://\(publicHost(request))/_mediagate/s/\(token)"
        return ControlJSON.response(.created, ShareLinkCreated(token: token, url: url, expiresAt: ControlJSON.formatTime(expiresAt)))
    }

    func deleteShareLink(caller: ControlCaller, token: String) async throws -> Response {
        let hash = Self.tokenHash(token)
        guard let link = try await policyStore.shareLink(tokenHash: hash) else {
            throw ControlError(status: .notFound, code: "NoSuchShareLink", message: "No such share link.")
        }
        if let own = caller.tenantName, link.creator != .tenant(own) {
            // Another tenant's link: answer as if it did not exist.
            throw ControlError(status: .notFound, code: "NoSuchShareLink", message: "No such share link.")
        }
        _ = try await policyStore.removeShareLink(tokenHash: hash)
        return Response(status: .noContent)
    }

    /// `GET`/`HEAD /_mediagate/s/{token}`: the object, with its creator's rights checked now.
    func serveShareLink(token: String, rawPath: Substring, rawQuery: Substring, request: Request, requestID: String, logger: Logger) async -> Response {
        do {
            guard request.method == .get || request.method == .head else {
                throw S3Error(.methodNotAllowed, "The specified method is not allowed against this resource.")
            }
            let notFound = S3Error(.noSuchKey, "The share link does not exist.")
            guard !token.isEmpty, token.utf8.count <= 128, let link = try await policyStore.shareLink(tokenHash: Self.tokenHash(token)) else {
                throw notFound
            }
            guard link.expiresAt > Date() else { throw S3Error(.accessDenied, "Share link has expired") }
            // One read of the tenants: the creator's rights and every owner's scope.
            let records = try await policyStore.tenants()
            let principal: Principal
            switch link.creator {
            case .root:
                principal = .root(accessKeyID: control?.root.accessKeyID ?? "")
            case .tenant(let name):
                guard let tenant = records.first(where: { $0.name == name }) else { throw notFound }
                principal = .tenant(TenantIdentity(name: tenant.name, accessKeyID: "share-link", prefix: tenant.prefix, buckets: tenant.buckets))
            }
            let tenants = records.map(\.scope)
            let grant = try await authorize(
                principal, .readObject, bucket: link.bucket, key: link.key, tenants: tenants, presigned: nil,
                logger: logger, operation: "ShareLink")
            // Response overrides (`response-content-type=…`) are for signed requests only: a
            // link's visitor must not choose how the object is served.
            let query = try S3RequestLine.parseQuery(rawQuery).filter { !$0.name.hasPrefix("response-") }
            let line = S3RequestLine(
                method: request.method.rawValue, rawPath: String(rawPath), query: query,
                host: request.head.authority, copySource: nil)
            // A share link carries no signature; the read below uses only the request's headers and query.
            let auth = SigV4Authenticated(accessKeyID: "", payload: .unsigned, kind: .header, requestDate: Date(), chunkContext: nil)
            let operation: S3Operation = request.method == .head
                ? .headObject(bucket: link.bucket, key: link.key) : .getObject(bucket: link.bucket, key: link.key)
            let call = Call(request: request, line: line, operation: operation, auth: auth, principal: principal,
                            tenants: tenants, requestID: requestID, logger: logger)
            return try await getObject(call, grant)
        } catch {
            let s3Error = ErrorMapping.s3Error(for: error, logger: logger)
            return Self.errorResponse(s3Error, resource: rawPath, requestID: requestID, method: request.method)
        }
    }

    // MARK: Helpers

    /// The principal a control caller acts as.
    private func principal(of caller: ControlCaller, control: ControlAccess) -> Principal {
        switch caller {
        case .admin: .root(accessKeyID: control.root.accessKeyID)
        case .tenant(let identity, _): .tenant(identity)
        }
    }

    /// Signs with the caller's own pair: a tenant's URL is bound by the tenant's prefix.
    private func signer(for caller: ControlCaller, control: ControlAccess) -> SigV4Signer {
        let credentials = switch caller {
        case .admin: control.root
        case .tenant(let identity, let secret): SigV4Credentials(accessKeyID: identity.accessKeyID, secretAccessKey: secret)
        }
        return SigV4Signer(credentials: credentials, region: configuration.region)
    }

    /// The host clients reached this request on.
    private func publicHost(_ request: Request) -> String {
        request.head.authority ?? "127.0.0.1"
    }

    /// Lowercase hex SHA-256 of a share token: only this is stored.
    static func tokenHash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Array(token.utf8)))
    }
}
