import GatewayCore

/// Builds the parts of a SigV4 canonical request exactly as S3 does.
enum SigV4Canonical {
    /// The canonical URI: the raw path percent-decoded (`+` stays a literal plus) and re-encoded
    /// byte by byte with AWS's rule, `/` kept. S3 neither double-encodes nor normalizes `.`/`..`/`//`.
    static func canonicalURI(rawPath: String) -> String {
        guard !rawPath.isEmpty else { return "/" }
        let decoded = SigV4Encoding.percentDecode(rawPath, plusAsSpace: false)
        var out = [UInt8]()
        out.reserveCapacity(decoded.count + 8)
        if decoded.first != UInt8(ascii: "/") { out.append(UInt8(ascii: "/")) }
        SigV4Encoding.appendEncoded(decoded, encodeSlash: false, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The query split into decoded (name, value) pairs; `+` decodes to a space, a parameter
    /// without `=` has an empty value, empty segments are skipped.
    static func queryItems(_ rawQuery: String) -> [(name: [UInt8], value: [UInt8])] {
        guard !rawQuery.isEmpty else { return [] }
        return QueryString.items(rawQuery).map { ($0.name, $0.value) }
    }

    /// The canonical query string: every pair re-encoded with AWS's rule (`/` encoded too),
    /// sorted by encoded name then encoded value, joined with `&`.
    /// - Parameter excludingSignature: Drop `X-Amz-Signature` (presigned verification).
    static func canonicalQuery(rawQuery: String, excludingSignature: Bool) -> String {
        canonicalQuery(items: queryItems(rawQuery), excludingSignature: excludingSignature)
    }

    /// ``canonicalQuery(rawQuery:excludingSignature:)`` from the query's decoded items
    /// (``queryItems(_:)``), when the caller split it already.
    static func canonicalQuery(items: [(name: [UInt8], value: [UInt8])], excludingSignature: Bool) -> String {
        let signatureName = Array("X-Amz-Signature".utf8)
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for item in items {
            if excludingSignature && item.name == signatureName { continue }
            var n = [UInt8](), v = [UInt8]()
            SigV4Encoding.appendEncoded(item.name, encodeSlash: true, to: &n)
            SigV4Encoding.appendEncoded(item.value, encodeSlash: true, to: &v)
            pairs.append((n, v))
        }
        pairs.sort { a, b in
            a.name != b.name ? a.name.lexicographicallyPrecedes(b.name) : a.value.lexicographicallyPrecedes(b.value)
        }
        var out = [UInt8]()
        for (i, p) in pairs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: "&")) }
            out += p.name
            out.append(UInt8(ascii: "="))
            out += p.value
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims leading/trailing whitespace and collapses inner whitespace runs to one space.
    static func trimAll(_ value: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for b in value.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `name:value\n` for each signed header in the given order; duplicate headers are joined with `,`.
    /// A signed `expect` header that a proxy removed is taken as `100-continue` (as MinIO does).
    static func canonicalHeaders(signedHeaders: [String], headers: [(name: String, value: String)]) -> String {
        var out = ""
        for name in signedHeaders {
            var values: [String] = []
            for h in headers where h.name.caseInsensitiveEquals(name) {
                values.append(trimAll(h.value))
            }
            if values.isEmpty && name == "expect" { values = ["100-continue"] }
            out += name
            out += ":"
            out += values.joined(separator: ",")
            out += "\n"
        }
        return out
    }

    /// The canonical request.
    static func canonicalRequest(method: String, canonicalURI: String, canonicalQuery: String,
                                 canonicalHeaders: String, signedHeaders: String, payloadHash: String) -> String {
        method + "\n" + canonicalURI + "\n" + canonicalQuery + "\n" + canonicalHeaders + "\n"
            + signedHeaders + "\n" + payloadHash
    }
}
