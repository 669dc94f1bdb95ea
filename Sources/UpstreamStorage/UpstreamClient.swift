import AsyncHTTPClient
import Foundation
import GatewayCore
import Integrity
import Logging
import NIOCore
import NIOHTTP1
import S3XML
import SigV4
import Storage

/// One request to the upstream store, before signing.
struct UpstreamRequest: Sendable {
    var method: HTTPMethod
    var bucket: String?
    var key: String?
    /// Query parameters; an empty value is sent as the bare name (`?uploads`).
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []

    /// The percent-encoded path: `/`, `/bucket` or `/bucket/key` (slashes in the key kept).
    var rawPath: String {
        guard let bucket else { return "/" }
        guard let key else { return "/" + PercentEncoding.encode(bucket, encodeSlash: true) }
        return "/" + PercentEncoding.encode(bucket, encodeSlash: true) + "/" + PercentEncoding.encode(key, encodeSlash: false)
    }

    var rawQuery: String {
        query.map { item in
            let name = PercentEncoding.encode(item.name, encodeSlash: true)
            return item.value.isEmpty ? name : name + "=" + PercentEncoding.encode(item.value, encodeSlash: true)
        }.joined(separator: "&")
    }

    /// GET, HEAD and DELETE can be sent again after a failure without changing the outcome.
    var isIdempotent: Bool { method == .GET || method == .HEAD || method == .DELETE }
}

/// A request body for the upstream store.
enum UpstreamPayload: Sendable {
    case none
    /// A small body held in memory (XML documents, staged uploads); can be sent again.
    case bytes([UInt8])
    /// A one-shot stream of exactly `length` bytes; `sha256Hex` nil means `UNSIGNED-PAYLOAD` (TLS only).
    case stream(ByteStream, length: Int64, sha256Hex: String?)
    /// A staged file of `length` bytes with its SHA-256; can be sent again.
    case file(path: String, length: Int64, sha256Hex: String)
}

/// Signs and sends requests to the upstream store: retries idempotent requests on 5xx and
/// connection failures, and turns upstream errors into ``StorageError``s.
final class UpstreamClient: Sendable {
    let configuration: UpstreamConfiguration
    private let http: HTTPClient
    private let signer: SigV4Signer
    private let logger: Logger

    init(configuration: UpstreamConfiguration, logger: Logger) {
        self.configuration = configuration
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        self.logger = logger
        var settings = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .init(configuration.connectTimeout), read: .init(configuration.ioTimeout)),
            decompression: .disabled)
        settings.timeout.write = .init(configuration.ioTimeout)
        settings.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        settings.httpVersion = .http1Only
        // A refused connection fails at once; this client retries itself, with its own budget.
        settings.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
    }

    func shutdown() async throws {
        try await http.shutdown()
    }

    /// Sends `request` and returns the response once its status is a success (2xx), or one of
    /// `accepting`. Error answers are read and thrown as ``StorageError``.
    ///
    /// Idempotent requests whose payload can be sent again are retried on 5xx answers and on
    /// connection failures, after a pause that doubles each time.
    func send(
        _ request: UpstreamRequest, payload: UpstreamPayload = .none, accepting: Set<Int> = [],
        notFound: StorageError.Code = .noSuchKey
    ) async throws -> HTTPClientResponse {
        let replayable: Bool
        switch payload {
        case .stream: replayable = false
        default: replayable = true
        }
        let attempts = request.isIdempotent && replayable ? max(1, configuration.attempts) : 1
        var delay = configuration.retryDelay
        var attempt = 1
        while true {
            let outcome: Result<HTTPClientResponse, any Error>
            do {
                outcome = .success(try await execute(request, payload: payload))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let response):
                let status = Int(response.status.code)
                if (200..<300).contains(status) || accepting.contains(status) { return response }
                let failure = try await Self.failure(response, method: request.method, notFound: notFound)
                if failure.retryable, attempt < attempts {
                    logger.debug("upstream answered \(status); retrying", metadata: ["attempt": "\(attempt)"])
                } else {
                    throw failure.error
                }
            case .failure(let error):
                if let own = error as? UpstreamBodyError { throw own.underlying }
                if Task.isCancelled { throw CancellationError() }
                if attempt >= attempts {
                    throw StorageError(.serviceUnavailable, "upstream \(request.method) failed: \(error)")
                }
                logger.debug("upstream request failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
            try await Task.sleep(for: delay)
            delay *= 2
            attempt += 1
        }
    }

    private func execute(_ request: UpstreamRequest, payload: UpstreamPayload) async throws -> HTTPClientResponse {
        let rawPath = request.rawPath
        let rawQuery = request.rawQuery
        var headers = request.headers
        headers.append((name: "Host", value: configuration.hostHeader))
        let mode: SigV4PayloadMode
        var body: HTTPClientRequest.Body?
        switch payload {
        case .none:
            mode = .sha256(hex: Self.emptySHA256)
        case .bytes(let bytes):
            mode = .sha256(hex: Self.sha256Hex(bytes))
            headers.append((name: "Content-Length", value: String(bytes.count)))
            body = .bytes(ByteBuffer(bytes: bytes))
        case .stream(let stream, let length, let sha256Hex):
            mode = sha256Hex.map { .sha256(hex: $0) } ?? .unsigned
            headers.append((name: "Content-Length", value: String(length)))
            body = .stream(stream, length: .known(length))
        case .file(let path, let length, let sha256Hex):
            mode = .sha256(hex: sha256Hex)
            headers.append((name: "Content-Length", value: String(length)))
            body = .stream(FileChunks(path: path), length: .known(length))
        }
        let signature = signer.sign(
            method: request.method.rawValue, rawPath: rawPath, rawQuery: rawQuery, headers: headers, payload: mode, date: Date())
        var outgoing = HTTPClientRequest(url: configuration.origin + rawPath + (rawQuery.isEmpty ? "" : "?" + rawQuery))
        outgoing.method = request.method
        for header in headers + signature { outgoing.headers.add(name: header.name, value: header.value) }
        if let body { outgoing.body = body }
        // The deadline covers the answer's head; a long upload gets time for its bytes.
        var wait = configuration.ioTimeout
        if case .stream(_, let length, _) = payload { wait += .seconds(length / (256 * 1024)) }
        return try await http.execute(outgoing, deadline: .now() + .init(wait), logger: nil)
    }

    /// Reads an error answer. 5xx and 429 are retryable and end as `SlowDown`/`ServiceUnavailable`.
    private static func failure(
        _ response: HTTPClientResponse, method: HTTPMethod, notFound: StorageError.Code
    ) async throws -> (error: StorageError, retryable: Bool) {
        let status = Int(response.status.code)
        var code = ""
        var message = ""
        if method != .HEAD, let bytes = try? await response.body.collect(upTo: 64 * 1024),
            let root = try? XMLDocumentParser.parse(bytes.readableBytesView), root.name == "Error"
        {
            code = root.child("Code")?.trimmedText ?? ""
            message = root.child("Message")?.trimmedText ?? ""
        }
        let detail = "upstream \(method) \(status) \(code) \(message)"
        if status == 503 && code == "SlowDown" || status == 429 { return (StorageError(.slowDown, detail), true) }
        if status >= 500 { return (StorageError(.serviceUnavailable, detail), true) }
        return (StorageError(errorCode(status: status, code: code, notFound: notFound), detail), false)
    }

    /// Maps an upstream S3 error to the storage vocabulary; what has no equivalent is internal.
    static func errorCode(status: Int, code: String, notFound: StorageError.Code) -> StorageError.Code {
        switch code {
        case "NoSuchBucket": return .noSuchBucket
        case "NoSuchKey": return .noSuchKey
        case "NoSuchUpload": return .noSuchUpload
        case "BucketAlreadyExists", "BucketAlreadyOwnedByYou": return .bucketAlreadyExists
        case "BucketNotEmpty": return .bucketNotEmpty
        case "PreconditionFailed", "ConditionalRequestConflict": return .preconditionFailed
        case "InvalidPart": return .invalidPart
        case "InvalidPartOrder": return .invalidPartOrder
        case "EntityTooSmall": return .entityTooSmall
        case "InvalidRange": return .invalidRange
        case "IncompleteBody": return .incompleteBody
        case "SlowDown": return .slowDown
        default:
            switch status {
            case 404: return notFound
            case 412: return .preconditionFailed
            case 416: return .invalidRange
            default: return status >= 400 && status < 500 ? .upstreamRefused : .internalError
            }
        }
    }

    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var digester = BodyDigester(md5: false, sha256: true, checksum: nil)
        bytes.withUnsafeBytes { digester.update($0) }
        return digester.finalize().sha256Hex ?? ""
    }
}

/// An error thrown by the gateway's own upload body (a bad digest, a short client body): rethrown
/// as it is, never turned into an upstream failure.
struct UpstreamBodyError: Error {
    let underlying: any Error
}
