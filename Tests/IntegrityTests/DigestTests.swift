import Testing
import Integrity

@Suite("MD5, body digests, multipart values")
struct DigestTests {
    @Test("MD5 known values, hex and base64 forms")
    func md5() {
        #expect(MD5Hasher.hex(MD5Hasher.digest([UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
        let digest = MD5Hasher.digest(Array("hello world".utf8))
        #expect(MD5Hasher.hex(digest) == "5eb63bbbe01eeed093cb22bb8f5acdc3")
        #expect(MD5Hasher.base64(digest) == "XrY7u+Ae7tCTyyK7j1rNww==")
        var rng = SplitMix64(seed: 7)
        let data = patternBytes(count: 100_003)
        var hasher = MD5Hasher()
        for piece in randomPieces(data, using: &rng) {
            piece.withUnsafeBytes { hasher.update($0) }
        }
        #expect(MD5Hasher.hex(hasher.finalize()) == "4460af42c5f065a75fd24cd4fa296fee")
    }

    @Test("BodyDigester computes all requested digests in one pass")
    func bodyDigester() {
        let data = patternBytes(count: 100_003)
        var rng = SplitMix64(seed: 11)
        var digester = BodyDigester(md5: true, sha256: true, checksum: .crc64nvme)
        for piece in randomPieces(data, using: &rng) {
            piece.withUnsafeBytes { digester.update($0) }
        }
        let digests = digester.finalize()
        #expect(digests.md5Hex == "4460af42c5f065a75fd24cd4fa296fee")
        #expect(digests.sha256Hex == "536f2de4189d5c9a13c2bac770fdb1044fbb972fe25225228b45b762d381fc10")
        #expect(digests.checksum == ChecksumValue(
            algorithm: .crc64nvme, base64: ChecksumHasher.checksum(.crc64nvme, of: data)))
        #expect(digests.byteCount == 100_003)
    }

    @Test("BodyDigester with nothing requested only counts bytes")
    func bodyDigesterNothing() {
        var digester = BodyDigester(md5: false, sha256: false, checksum: nil)
        digester.update(Array("hello world".utf8))
        #expect(digester.finalize() == BodyDigests(md5: nil, sha256Hex: nil, checksum: nil, byteCount: 11))
    }

    @Test("BodyDigester shares one SHA-256 between payload hash and checksum")
    func bodyDigesterSharedSHA256() {
        for wantsHex in [true, false] {
            var digester = BodyDigester(md5: false, sha256: wantsHex, checksum: .sha256)
            digester.update(Array("hello world".utf8))
            let digests = digester.finalize()
            #expect(digests.checksum?.base64 == "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
            #expect(digests.sha256Hex == (wantsHex
                ? "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" : nil))
            #expect(digests.md5 == nil)
        }
    }

    @Test("MD5 splits from the slow digests only, and the two halves give the one-pass digests")
    func splitMD5() {
        #expect(BodyDigester(md5: true, sha256: false, checksum: nil).splitMD5() == nil)
        #expect(BodyDigester(md5: true, sha256: false, checksum: .crc32).splitMD5() == nil)
        #expect(BodyDigester(md5: true, sha256: false, checksum: .crc32c).splitMD5() == nil)
        #expect(BodyDigester(md5: false, sha256: true, checksum: .sha1).splitMD5() == nil)
        var fed = BodyDigester(md5: true, sha256: true, checksum: nil)
        fed.update([1, 2, 3])
        #expect(fed.splitMD5() == nil)

        let data = patternBytes(count: 100_003)
        let cases: [(Bool, ChecksumAlgorithm?)] = [(true, nil), (true, .crc32), (false, .sha1), (false, .sha256), (true, .sha256), (false, .crc64nvme)]
        for (sha256, checksum) in cases {
            var whole = BodyDigester(md5: true, sha256: sha256, checksum: checksum)
            guard var (md5, rest) = whole.splitMD5() else {
                Issue.record("no split for sha256 \(sha256), \(String(describing: checksum))")
                continue
            }
            var rng = SplitMix64(seed: 5)
            for piece in randomPieces(data, using: &rng) {
                piece.withUnsafeBytes { bytes in
                    whole.update(bytes)
                    md5.update(bytes)
                    rest.update(bytes)
                }
            }
            #expect(BodyDigests(md5: md5.finalize(), rest: rest.finalize()) == whole.finalize())
        }
    }

    @Test("multipart ETag is the MD5 of the binary part MD5s, dash, count")
    func multipartETag() {
        let parts = [
            "d4e8ea57f502a817d0a039e5979c29b9",
            "\"733ad511196fd8bcbbfdbf180f61a134\"",
            "7FDEE924BFFDEF44A85121D21DDE14A5",
        ]
        #expect(MultipartETag.compute(partMD5Hex: parts) == "0860473addc814a31ee075596adfe815-3")
        #expect(MultipartETag.compute(partMD5Hex: []) == nil)
        #expect(MultipartETag.compute(partMD5Hex: ["abc"]) == nil)
        #expect(MultipartETag.compute(partMD5Hex: ["zz" + String(repeating: "0", count: 30)]) == nil)
        let single = MultipartETag.compute(partMD5Hex: ["5eb63bbbe01eeed093cb22bb8f5acdc3"])
        #expect(single?.hasSuffix("-1") == true)
    }

    @Test("composite multipart checksum")
    func compositeChecksum() {
        let parts = ["io8wRw==", "/YgA0Q==", "ZIFRaw=="]
        #expect(MultipartChecksum.composite(.crc32, partChecksums: parts) == "gU1agA==-3")
        #expect(MultipartChecksum.composite(.crc32, partChecksums: []) == nil)
        #expect(MultipartChecksum.composite(.crc64nvme, partChecksums: parts) == nil)
        #expect(MultipartChecksum.composite(.crc32, partChecksums: ["not base64"]) == nil)
    }

    @Test("base64 round trip and strict decoding")
    func base64() {
        for length in 0..<40 {
            let bytes = patternBytes(count: length)
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("hello world".utf8)) == "aGVsbG8gd29ybGQ=")
        #expect(Base64.decode("aGVsbG8gd29ybGQ=") == Array("hello world".utf8))
        #expect(Base64.decode("aGVsbG8gd29ybGQ") == nil)      // missing padding
        #expect(Base64.decode("aGVs bG8=") == nil)            // whitespace
        #expect(Base64.decode("aGVsbG8_d29ybGQ=") == nil)     // URL alphabet
        #expect(Base64.decode("aGVsbG8gd29ybGR=") == nil)     // non-zero bits under padding
        #expect(Base64.decode("a===") == nil)
        #expect(Base64.decode("=AAA") == nil)
        #expect(Base64.decode("") == [])
    }

    @Test("hex round trip")
    func hex() {
        let bytes: [UInt8] = [0x00, 0x0F, 0xA0, 0xFF]
        #expect(Hex.encode(bytes) == "000fa0ff")
        #expect(Hex.decode("000FA0ff") == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("0g") == nil)
    }
}
