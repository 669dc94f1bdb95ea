import Testing
import Integrity

/// Base64 values below are what boto3 / the AWS CLI send for these bodies (computed with
/// Python's zlib / hashlib and a bit-by-bit CRC32C / CRC64NVME, big-endian, base64).
@Suite("ChecksumAlgorithm and ChecksumHasher")
struct ChecksumHasherTests {
    @Test("header names parse case-insensitively and round-trip")
    func headerNames() {
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-crc32") == .crc32)
        #expect(ChecksumAlgorithm(headerName: "X-Amz-Checksum-CRC32C") == .crc32c)
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-crc64nvme") == .crc64nvme)
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-sha1") == .sha1)
        #expect(ChecksumAlgorithm(headerName: "X-AMZ-CHECKSUM-SHA256") == .sha256)
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-algorithm") == nil)
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-mode") == nil)
        #expect(ChecksumAlgorithm(headerName: "x-amz-checksum-") == nil)
        #expect(ChecksumAlgorithm(headerName: "content-md5") == nil)
        #expect(ChecksumAlgorithm(algorithmName: "crc64NVME") == .crc64nvme)
        #expect(ChecksumAlgorithm(algorithmName: "MD5") == nil)
        for algorithm in ChecksumAlgorithm.allCases {
            #expect(ChecksumAlgorithm(headerName: algorithm.headerName) == algorithm)
            #expect(algorithm.headerName == algorithm.headerName.lowercased())
        }
        #expect(ChecksumAlgorithm.crc32c.headerName == "x-amz-checksum-crc32c")
        #expect(ChecksumAlgorithm.sha256.xmlElementName == "ChecksumSHA256")
    }

    static let vectors: [(String, ChecksumAlgorithm, String)] = [
        ("hello world", .crc32, "DUoRhQ=="),
        ("hello world", .crc32c, "yZRlqg=="),
        ("hello world", .crc64nvme, "jSnVw/bqjr4="),
        ("hello world", .sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        ("hello world", .sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
        ("Hello, World!\n", .crc32, "tOiehA=="),
        ("Hello, World!\n", .crc32c, "0s3l1A=="),
        ("Hello, World!\n", .crc64nvme, "SoXXbx67KpE="),
        ("123456789", .crc32, "y/Q5Jg=="),
        ("123456789", .crc32c, "4waSgw=="),
        ("123456789", .crc64nvme, "rosUhgp5mIg="),
        ("123456789", .sha1, "98O8HYCOBHMq32eZZczDTKeuNEE="),
        ("", .crc32, "AAAAAA=="),
        ("", .crc64nvme, "AAAAAAAAAAA="),
        ("", .sha1, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        ("", .sha256, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
    ]

    @Test("base64 values match what S3 clients send", arguments: vectors)
    func knownValues(input: String, algorithm: ChecksumAlgorithm, expected: String) {
        #expect(ChecksumHasher.checksum(algorithm, of: Array(input.utf8)) == expected)
        var hasher = ChecksumHasher(algorithm)
        Array(input.utf8).withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize() == expected)
        #expect(hasher.finalizeDigest().count == algorithm.digestByteCount)
    }

    @Test("1000 × \"a\" and the 100,003-byte pattern")
    func longerInputs() {
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        #expect(ChecksumHasher.checksum(.crc32, of: a) == "mjjaAw==")
        #expect(ChecksumHasher.checksum(.crc32c, of: a) == "nxnvag==")
        #expect(ChecksumHasher.checksum(.crc64nvme, of: a) == "6rMjKymX9eU=")
        #expect(ChecksumHasher.checksum(.sha1, of: a) == "KR6abGaZSUm1e6XmUDYemPw2sbo=")
        let pattern = patternBytes(count: 100_003)
        #expect(ChecksumHasher.checksum(.sha1, of: pattern) == "f8xxrIFFFE2Bvh8WyOYpaaiCYdU=")
    }

    @Test("chunked updates equal one-shot for every algorithm", arguments: ChecksumAlgorithm.allCases)
    func chunked(algorithm: ChecksumAlgorithm) {
        var rng = SplitMix64(seed: UInt64(algorithm.digestByteCount))
        let data = patternBytes(count: 12_345)
        var hasher = ChecksumHasher(algorithm)
        for piece in randomPieces(data, using: &rng) {
            piece.withUnsafeBytes { hasher.update($0) }
        }
        #expect(hasher.finalize() == ChecksumHasher.checksum(algorithm, of: data))
    }

    @Test("finalize does not end the stream")
    func finalizeIsNonDestructive() {
        var hasher = ChecksumHasher(.sha256)
        hasher.update(Array("hello ".utf8))
        _ = hasher.finalize()
        hasher.update(Array("world".utf8))
        #expect(hasher.finalize() == "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
    }

    @Test("non-contiguous sequences are accepted")
    func nonContiguous() {
        var hasher = ChecksumHasher(.crc32)
        hasher.update("hello world".utf8.lazy.map { $0 })
        #expect(hasher.finalize() == "DUoRhQ==")
    }
}
