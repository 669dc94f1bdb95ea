import Crypto
import Synchronization

/// A thread-safe, bounded cache of derived SigV4 signing keys, keyed by
/// (access key, secret, `yyyymmdd`, region, service).
///
/// Deriving a key costs four HMACs per request; one key serves a client for a whole day.
/// The cache keeps at most `capacity` entries in two generations: lookups hit either
/// generation, and when the newer one fills up the older one is dropped.
public final class SigningKeyCache: Sendable {
    private struct Key: Hashable {
        var accessKeyID: String
        var secret: String
        var date: String
        var region: String
        var service: String
    }

    private struct State {
        var current: [Key: SigningKey] = [:]
        var previous: [Key: SigningKey] = [:]
    }

    private let generationSize: Int
    private let state = Mutex(State())

    /// Creates an empty cache.
    /// - Parameter capacity: The maximum number of keys kept (at least 2).
    public init(capacity: Int = 1024) {
        self.generationSize = max(1, capacity / 2)
    }

    /// The signing key for the given scope, derived and cached on a miss.
    func signingKey(accessKeyID: String, secret: String, date: String, region: String, service: String) -> SigningKey {
        let key = Key(accessKeyID: accessKeyID, secret: secret, date: date, region: region, service: service)
        if let hit = state.withLock({ state -> SigningKey? in
            if let k = state.current[key] { return k }
            if let k = state.previous[key] {
                state.current[key] = k
                return k
            }
            return nil
        }) {
            return hit
        }
        let derived = SigningKey(SigV4Crypto.deriveSigningKey(secret: secret, date: date, region: region, service: service))
        state.withLock { state in
            if state.current.count >= generationSize {
                state.previous = state.current
                state.current = [:]
            }
            state.current[key] = derived
        }
        return derived
    }

    /// The number of keys currently cached (for tests and metrics).
    public var count: Int {
        state.withLock { s in
            s.current.count + s.previous.keys.reduce(0) { $0 + (s.current[$1] == nil ? 1 : 0) }
        }
    }
}

/// A derived SigV4 signing key, with HMAC-SHA256's two hashes already keyed with it: keying
/// pads the key and hashes a block for each, which a signature check would otherwise repeat on
/// every request.
///
/// HMAC (RFC 2104) is `H((K ^ opad) || H((K ^ ipad) || m))`; the states after the two padded
/// key blocks are kept and copied for each message. Done here on `SHA256` itself because
/// `HMAC.update(data:)` is generic over `DataProtocol` and not inlinable: it was a fifth of a
/// signature check (bench/PROFILE.md).
struct SigningKey: Sendable {
    let key: SymmetricKey
    /// SHA-256 after the key XOR `0x36` (inner) and the key XOR `0x5c` (outer), one block each.
    private let inner: SHA256
    private let outer: SHA256

    init(_ key: SymmetricKey) {
        self.key = key
        // A derived key is 32 bytes; a key longer than a block is hashed first (RFC 2104).
        var block = [UInt8](repeating: 0, count: 64)
        key.withUnsafeBytes { bytes in
            if bytes.count > 64 {
                SHA256.hash(data: bytes).withUnsafeBytes { block.replaceSubrange(0..<$0.count, with: $0) }
            } else {
                block.replaceSubrange(0..<bytes.count, with: bytes)
            }
        }
        var inner = SHA256(), outer = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        outer.update(data: block.map { $0 ^ 0x5c })
        self.inner = inner
        self.outer = outer
    }

    /// `HMAC-SHA256(key, message)`, passed to `body` as its 32 bytes.
    func withAuthenticationCode<R>(for message: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var inner = self.inner
        message.withUnsafeBytes { inner.update(bufferPointer: $0) }
        var outer = self.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes(body)
    }
}

/// The HMAC and hashing primitives of SigV4.
enum SigV4Crypto {
    static let algorithm = "AWS4-HMAC-SHA256"

    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    static func deriveSigningKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        let kSecret = SymmetricKey(data: Array(("AWS4" + secret).utf8))
        let kDate = hmac(kSecret, date)
        let kRegion = hmac(SymmetricKey(data: kDate), region)
        let kService = hmac(SymmetricKey(data: kRegion), service)
        return SymmetricKey(data: hmac(SymmetricKey(data: kService), "aws4_request"))
    }

    static func hmac(_ key: SymmetricKey, _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: key))
    }

    /// Lowercase hex HMAC-SHA256 of `message` with `key`: a SigV4 signature.
    static func signatureHex(_ key: SymmetricKey, _ message: String) -> String {
        signatureHex(key, Array(message.utf8))
    }

    /// ``signatureHex(_:_:)-(_,String)`` of a message in bytes.
    static func signatureHex(_ key: SymmetricKey, _ message: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: message, using: key).withUnsafeBytes { SigV4Encoding.hex($0) }
    }

    /// Whether `signature` (hex, either case) is the HMAC-SHA256 of `message` with `key`, in time
    /// that does not depend on where they differ; without building the expected hex text.
    static func signatureMatches(_ key: SigningKey, _ message: [UInt8], signature: String) -> Bool {
        key.withAuthenticationCode(for: message) { mac in
            SigV4Encoding.constantTimeEqualsHex(of: mac, signature)
        }
    }

    /// `yyyymmdd/region/service/aws4_request`.
    static func scope(date: String, region: String, service: String) -> String {
        "\(date)/\(region)/\(service)/aws4_request"
    }

    /// The string to sign of a request.
    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        String(decoding: stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: Array(canonicalRequest.utf8)), as: UTF8.self)
    }

    /// ``stringToSign(amzDate:scope:canonicalRequest:)-(_,_,String)`` in bytes.
    static func stringToSign(amzDate: String, scope: String, canonicalRequest: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(algorithm.utf8.count + amzDate.utf8.count + scope.utf8.count + 67)
        appendHead(amzDate: amzDate, to: &out)
        out.append(contentsOf: scope.utf8)
        appendTail(canonicalRequest, to: &out)
        return out
    }

    /// The same string to sign, with the scope's parts written straight into it (the verifier:
    /// the scope's own text is then not made for each request).
    static func stringToSign(amzDate: String, scopeDate: String, region: String, service: String,
                             canonicalRequest: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(algorithm.utf8.count + amzDate.utf8.count + scopeDate.utf8.count + region.utf8.count
            + service.utf8.count + 82)
        appendHead(amzDate: amzDate, to: &out)
        out.append(contentsOf: scopeDate.utf8)
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: region.utf8)
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: service.utf8)
        out.append(contentsOf: "/aws4_request".utf8)
        appendTail(canonicalRequest, to: &out)
        return out
    }

    /// The algorithm and the request time, each ended by a newline.
    private static func appendHead(amzDate: String, to out: inout [UInt8]) {
        out.append(contentsOf: algorithm.utf8)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: amzDate.utf8)
        out.append(UInt8(ascii: "\n"))
    }

    /// The newline after the scope and the canonical request's hash.
    private static func appendTail(_ canonicalRequest: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\n"))
        SHA256.hash(data: canonicalRequest).withUnsafeBytes { SigV4Encoding.appendHex($0, to: &out) }
    }

    /// The string to sign of an aws-chunked data chunk.
    static func chunkStringToSign(amzDate: String, scope: String, previousSignature: String, chunkHashHex: String) -> String {
        "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + previousSignature + "\n"
            + SigV4Encoding.emptySHA256Hex + "\n" + chunkHashHex
    }

    /// The string to sign of an aws-chunked trailer section.
    static func trailerStringToSign(amzDate: String, scope: String, previousSignature: String, trailerHashHex: String) -> String {
        "AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + previousSignature + "\n" + trailerHashHex
    }
}
