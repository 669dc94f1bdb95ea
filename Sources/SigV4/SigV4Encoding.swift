import Crypto
import Foundation
import GatewayCore

/// Encoding helpers shared by the signer and the verifier (AWS's URI encoding, hex, SHA-256).
public enum SigV4Encoding {
    /// Percent-encodes with AWS's rule: `A-Z a-z 0-9 - . _ ~` are kept, `/` is kept unless
    /// `encodeSlash`, every other UTF-8 byte becomes `%XX` (uppercase hex).
    /// - Parameters:
    ///   - s: The decoded text.
    ///   - encodeSlash: `true` for query names and values, `false` for paths.
    /// - Returns: The encoded text.
    public static func awsURIEncode(_ s: some StringProtocol, encodeSlash: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        appendEncoded(s.utf8, encodeSlash: encodeSlash, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex SHA-256 of `bytes`.
    /// - Parameter bytes: The data to hash.
    /// - Returns: 64 lowercase hex digits.
    public static func sha256Hex(_ bytes: some DataProtocol) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Percent-decodes `s` into bytes. Malformed escapes (`%` not followed by two hex digits)
    /// are kept literally. `+` becomes a space only when `plusAsSpace`.
    /// - Parameters:
    ///   - s: The encoded text.
    ///   - plusAsSpace: Whether `+` means a space (query strings) or a literal plus (paths).
    /// - Returns: The decoded bytes (not necessarily valid UTF-8).
    public static func percentDecode(_ s: some StringProtocol, plusAsSpace: Bool) -> [UInt8] {
        var malformed = false
        return PercentEncoding.decodeBytes(s.utf8, plusAsSpace: plusAsSpace, malformed: &malformed)
    }

    // MARK: - Internal

    static func appendEncoded(_ bytes: some Sequence<UInt8>, encodeSlash: Bool, to out: inout [UInt8]) {
        for b in bytes {
            if isUnreserved(b) || (b == UInt8(ascii: "/") && !encodeSlash) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHexDigits[Int(b >> 4)])
                out.append(upperHexDigits[Int(b & 0x0F)])
            }
        }
    }

    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
    }

    static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
    static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lowercase hex of any byte sequence (digests, MACs).
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``hex(_:)`` appended to `out`.
    static func appendHex(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for b in bytes {
            out.append(lowerHexDigits[Int(b >> 4)])
            out.append(lowerHexDigits[Int(b & 0x0F)])
        }
    }

    /// Hex of SHA-256 of the empty string.
    static let emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Constant-time comparison of two ASCII hex signatures, ignoring hex-letter case.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a.utf8, b.utf8) {
            diff |= lowerASCII(x) ^ lowerASCII(y)
        }
        return diff == 0
    }

    /// Constant-time comparison of `bytes`' lowercase hex with `hexText` (either case).
    static func constantTimeEqualsHex(of bytes: UnsafeRawBufferPointer, _ hexText: String) -> Bool {
        guard hexText.utf8.count == 2 * bytes.count else { return false }
        var diff: UInt8 = 0
        var text = hexText.utf8.makeIterator()
        for b in bytes {
            diff |= lowerHexDigits[Int(b >> 4)] ^ lowerASCII(text.next() ?? 0)
            diff |= lowerHexDigits[Int(b & 0x0F)] ^ lowerASCII(text.next() ?? 0)
        }
        return diff == 0
    }

    @inline(__always)
    private static func lowerASCII(_ b: UInt8) -> UInt8 {
        (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
    }
}
