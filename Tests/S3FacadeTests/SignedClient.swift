import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import S3Facade
import SigV4
import Storage

/// Builds a gateway over an in-memory store and signs requests like an SDK would.
struct GatewayHarness {
    static let credentials = SigV4Credentials(accessKeyID: "AKIDROOT0000000000", secretAccessKey: "root-secret-for-tests-only-0000000000000")

    let store = InMemoryObjectStore(minimumPartSize: 5)
    let metrics = GatewayMetrics()

    func makeApplication() -> some ApplicationProtocol {
        let gateway = S3Gateway(
            configuration: GatewayConfiguration(), store: store,
            credentials: StaticCredentialProvider([
                Self.credentials.accessKeyID: StoredCredential(
                    secretAccessKey: Self.credentials.secretAccessKey, principal: .root(accessKeyID: Self.credentials.accessKeyID))
            ]),
            metrics: metrics)
        return Application(responder: gateway)
    }
}

/// Signs and sends requests through a HummingbirdTesting client.
struct SignedClient {
    let client: any TestClientProtocol
    var credentials = GatewayHarness.credentials
    var date = Date()

    var signer: SigV4Signer { SigV4Signer(credentials: credentials, region: "us-east-1") }

    /// Sends a header-signed request with a SHA-256 payload hash.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = [], body: [UInt8] = [],
        payload: SigV4PayloadMode? = nil
    ) async throws -> TestResponse {
        let (path, query) = Self.split(target)
        var signedHeaders: [(name: String, value: String)] = [("host", "localhost")]
        for (name, value) in headers { signedHeaders.append((name, value)) }
        let mode = payload ?? .sha256(hex: SigV4Encoding.sha256Hex(body))
        let added = signer.sign(method: method.rawValue, rawPath: path, rawQuery: query, headers: signedHeaders, payload: mode, date: date)
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        for (name, value) in added { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return try await client.execute(uri: target, method: method, headers: fields, body: body.isEmpty ? nil : ByteBuffer(bytes: body))
    }

    /// Sends a raw request with exactly these headers (no signing).
    func raw(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> TestResponse {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return try await client.execute(uri: target, method: method, headers: fields, body: body.isEmpty ? nil : ByteBuffer(bytes: body))
    }

    /// A presigned URL target (path and query) for this client's key.
    func presigned(_ method: HTTPRequest.Method, _ target: String, expires: Int, date: Date? = nil) -> String {
        let (path, query) = Self.split(target)
        let signed = signer.presignedQuery(method: method.rawValue, host: "localhost", rawPath: path, rawQuery: query, expires: expires, date: date ?? self.date)
        return path + "?" + signed
    }

    static func split(_ target: String) -> (String, String) {
        guard let q = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    /// The text of the first `<name>` element in an XML body.
    func xmlValue(_ name: String) -> String? {
        guard let open = text.range(of: "<\(name)>"), let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}
