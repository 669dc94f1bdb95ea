import Foundation
import GatewayCore

/// Builds the parts of a SigV4 canonical request exactly as S3 does.
///
/// The verifier builds the canonical request as bytes in one buffer (``appendCanonicalURI(rawPath:to:)``
/// and the other `append` functions); the `String` forms serve the signer, tests and error details.
enum SigV4Canonical {
    /// The canonical URI: the raw path percent-decoded (`+` stays a literal plus) and re-encoded
    /// byte by byte with AWS's rule, `/` kept. S3 neither double-encodes nor normalizes `.`/`..`/`//`.
    static func canonicalURI(rawPath: String) -> String {
        var out = [UInt8]()
        appendCanonicalURI(rawPath: rawPath, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``canonicalURI(rawPath:)`` appended to `out`.
    static func appendCanonicalURI(rawPath: String, to out: inout [UInt8]) {
        guard !rawPath.isEmpty else {
            out.append(UInt8(ascii: "/"))
            return
        }
        if !rawPath.utf8.contains(UInt8(ascii: "%")) {
            // Nothing to decode (`+` stays a plus in a path): encoded from the raw bytes.
            out.reserveCapacity(out.count + rawPath.utf8.count * 3 + 1)
            if rawPath.utf8.first != UInt8(ascii: "/") { out.append(UInt8(ascii: "/")) }
            SigV4Encoding.appendEncoded(rawPath.utf8, encodeSlash: false, to: &out)
            return
        }
        let decoded = SigV4Encoding.percentDecode(rawPath, plusAsSpace: false)
        out.reserveCapacity(out.count + decoded.count * 3 + 1)
        if decoded.first != UInt8(ascii: "/") { out.append(UInt8(ascii: "/")) }
        SigV4Encoding.appendEncoded(decoded, encodeSlash: false, to: &out)
    }

    /// The canonical query string: every pair re-encoded with AWS's rule (`/` encoded too),
    /// sorted by encoded name then encoded value, joined with `&`.
    /// - Parameter excludingSignature: Drop `X-Amz-Signature` (presigned verification).
    static func canonicalQuery(rawQuery: String, excludingSignature: Bool) -> String {
        var out = [UInt8]()
        appendCanonicalQuery(QueryString.items(rawQuery), excludingSignature: excludingSignature, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``canonicalQuery(rawQuery:excludingSignature:)`` of a query already split, appended to `out`.
    static func appendCanonicalQuery(_ items: QueryString.Parameters, excludingSignature: Bool, to out: inout [UInt8]) {
        // Every encoded name and value goes into one buffer; the pairs are sorted as ranges of it.
        var encoded = [UInt8]()
        encoded.reserveCapacity(items.byteCount * 3)
        var pairs: [(name: Range<Int>, value: Range<Int>)] = []
        pairs.reserveCapacity(items.count)
        for item in items {
            if excludingSignature && item.nameIs("X-Amz-Signature") { continue }
            let nameStart = encoded.count
            SigV4Encoding.appendEncoded(item.name, encodeSlash: true, to: &encoded)
            let valueStart = encoded.count
            SigV4Encoding.appendEncoded(item.value, encodeSlash: true, to: &encoded)
            pairs.append((nameStart..<valueStart, valueStart..<encoded.count))
        }
        out.reserveCapacity(out.count + encoded.count + 2 * pairs.count)
        encoded.withUnsafeBufferPointer { bytes in
            // Compared in place: slices of the array would retain and release it per comparison.
            pairs.sort { a, b in
                let byName = compare(bytes, a.name, b.name)
                return byName == 0 ? compare(bytes, a.value, b.value) < 0 : byName < 0
            }
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out.append(UInt8(ascii: "&")) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[pair.name]))
                out.append(UInt8(ascii: "="))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[pair.value]))
            }
        }
    }

    /// The byte-wise order of two ranges of `bytes`: negative, zero or positive.
    private static func compare(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Int {
        let common = min(a.count, b.count)
        if common > 0, let base = bytes.baseAddress {
            let order = memcmp(base + a.lowerBound, base + b.lowerBound, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }

    /// Trims leading/trailing whitespace and collapses inner whitespace runs to one space.
    static func trimAll(_ value: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count)
        appendTrimmed(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``trimAll(_:)`` appended to `out`.
    static func appendTrimmed(_ value: String, to out: inout [UInt8]) {
        var pendingSpace = false, wroteAny = false
        for b in value.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C {
                pendingSpace = wroteAny
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(b)
                wroteAny = true
            }
        }
    }

    /// `name:value\n` for each signed header in the given order; duplicate headers are joined with `,`.
    /// A signed `expect` header that a proxy removed is taken as `100-continue` (as MinIO does).
    static func canonicalHeaders(signedHeaders: [String], headers: [(name: String, value: String)]) -> String {
        var out = [UInt8]()
        appendCanonicalHeaders(signedHeaders: signedHeaders, headers: headers, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``canonicalHeaders(signedHeaders:headers:)`` appended to `out`.
    static func appendCanonicalHeaders(signedHeaders: [String], headers: [(name: String, value: String)], to out: inout [UInt8]) {
        for name in signedHeaders {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ":"))
            var found = false
            for header in headers where header.name.caseInsensitiveEquals(name) {
                if found { out.append(UInt8(ascii: ",")) }
                appendTrimmed(header.value, to: &out)
                found = true
            }
            if !found && name == "expect" { out.append(contentsOf: "100-continue".utf8) }
            out.append(UInt8(ascii: "\n"))
        }
    }

    /// The canonical request.
    static func canonicalRequest(method: String, canonicalURI: String, canonicalQuery: String,
                                 canonicalHeaders: String, signedHeaders: String, payloadHash: String) -> String {
        method + "\n" + canonicalURI + "\n" + canonicalQuery + "\n" + canonicalHeaders + "\n"
            + signedHeaders + "\n" + payloadHash
    }

    /// The canonical request of a received request, as bytes.
    static func canonicalRequest(_ request: SigV4Request, signedHeaders: [String], payloadHash: String,
                                 excludingSignature: Bool) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(request.method.utf8.count + 3 * (request.rawPath.utf8.count + request.rawQuery.utf8.count)
            + 64 * signedHeaders.count + payloadHash.utf8.count + 16)
        out.append(contentsOf: request.method.utf8)
        out.append(UInt8(ascii: "\n"))
        appendCanonicalURI(rawPath: request.rawPath, to: &out)
        out.append(UInt8(ascii: "\n"))
        appendCanonicalQuery(request.query, excludingSignature: excludingSignature, to: &out)
        out.append(UInt8(ascii: "\n"))
        appendCanonicalHeaders(signedHeaders: signedHeaders, headers: request.headers, to: &out)
        out.append(UInt8(ascii: "\n"))
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            out.append(contentsOf: name.utf8)
        }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: payloadHash.utf8)
        return out
    }
}
