import Foundation
import Testing
@testable import SigV4

/// Shared fixtures: AWS's documented example credentials and helpers.
enum Fixture {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let credentials = SigV4Credentials(accessKeyID: accessKey, secretAccessKey: secret)
    /// 2013-05-24T00:00:00Z, the time of every AWS example.
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
    static let emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
    static let verifier = SigV4Verifier(region: "us-east-1")

    /// Parses and verifies `request` with the example secret at `now`.
    static func verify(_ request: SigV4Request, now: Date = exampleDate,
                       verifier: SigV4Verifier = verifier, secret: String = secret) throws(SigV4Error) -> SigV4Authenticated {
        guard let parsed = try verifier.parse(request) else {
            throw SigV4Error(.missingSecurityHeader, "test: request parsed as anonymous")
        }
        return try verifier.verify(parsed, request: request, secretAccessKey: secret, now: now)
    }

    /// Signs a request with the example signer and returns it with the auth headers added.
    static func signed(method: String = "GET", path: String, query: String = "",
                       headers: [(name: String, value: String)] = [(name: "Host", value: "localhost:9000")],
                       payload: SigV4PayloadMode = .unsigned, date: Date = exampleDate) -> SigV4Request {
        let auth = signer.sign(method: method, rawPath: path, rawQuery: query, headers: headers, payload: payload, date: date)
        return SigV4Request(method: method, rawPath: path, rawQuery: query, headers: headers + auth)
    }

    /// The error code thrown by `body`, or `nil` when it does not throw.
    static func errorCode(_ body: () throws -> Void) -> SigV4Error.Code? {
        do {
            try body()
            return nil
        } catch let error as SigV4Error {
            return error.code
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }
}

extension SigV4Request {
    /// A copy with every header named `name` replaced by one with `value` (or removed when `nil`).
    func replacingHeader(_ name: String, with value: String?) -> SigV4Request {
        var copy = self
        copy.headers.removeAll { $0.name.lowercased() == name.lowercased() }
        if let value { copy.headers.append((name: name, value: value)) }
        return copy
    }

    /// The value of `Authorization`.
    var authorization: String { headers.first { $0.name.lowercased() == "authorization" }!.value }
}
