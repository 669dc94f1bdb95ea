import Testing
@testable import Integrity

/// Known-answer and streaming tests for the CRCs (CRC-32 and CRC-32C from ISA-L, CRC-64/NVME
/// and the portable kernels in Swift). Expected values come from
/// zlib.crc32 and a bit-by-bit Python reference (see the report), and the CRC catalogue's
/// check values.
@Suite("CRC kernels")
struct CRCTests {
    let check = [UInt8](utf8: "123456789")

    @Test("catalogue check values for \"123456789\"")
    func checkValues() {
        check.withUnsafeBytes { bytes in
            #expect(CRC32.checksum(bytes) == 0xCBF4_3926)
            #expect(CRC32C.checksum(bytes) == 0xE306_9283)
            #expect(CRC64NVME.checksum(bytes) == 0xAE8B_1486_0A79_9888)
        }
    }

    @Test("empty input gives zero")
    func empty() {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(CRC32.checksum(none) == 0)
        #expect(CRC32C.checksum(none) == 0)
        #expect(CRC64NVME.checksum(none) == 0)
    }

    @Test("32 zero bytes (aws-checksums' CRC64NVME vector) and more vectors")
    func zeros() {
        let zeros = [UInt8](repeating: 0, count: 32)
        zeros.withUnsafeBytes { bytes in
            #expect(CRC64NVME.checksum(bytes) == 0xCF34_7343_4D4E_CF3B)
            #expect(CRC32C.checksum(bytes) == 0x8A91_36AA)
        }
        let ramp = (0..<32).map { UInt8($0) }
        ramp.withUnsafeBytes { #expect(CRC64NVME.checksum($0) == 0xB9D9_D4A8_492C_BD7F) }
        [UInt8](utf8: "hello world").withUnsafeBytes { bytes in
            #expect(CRC32.checksum(bytes) == 0x0D4A_1185)
            #expect(CRC32C.checksum(bytes) == 0xC994_65AA)
            #expect(CRC64NVME.checksum(bytes) == 0x8D29_D5C3_F6EA_8EBE)
        }
    }

    @Test("100,003-byte pattern (exercises the 8-byte loop and the tail)")
    func pattern() {
        let data = patternBytes(count: 100_003)
        data.withUnsafeBytes { bytes in
            #expect(CRC32.checksum(bytes) == 0xACBE_DBDA)
            #expect(CRC32C.checksum(bytes) == 0x2B72_619D)
            #expect(CRC64NVME.checksum(bytes) == 0x5227_E5D8_795A_2C06)
        }
    }

    @Test("unaligned start addresses give the same result")
    func unaligned() {
        let data = patternBytes(count: 4_104)
        let expected = data[3...].withUnsafeBytes { CRC64NVME.checksum($0) }
        for offset in 0..<8 {
            var shifted = [UInt8](repeating: 0xAA, count: offset)
            shifted += data[3...]
            let value = shifted[offset...].withUnsafeBytes { CRC64NVME.checksum($0) }
            #expect(value == expected)
        }
    }

    @Test("chunked updates equal one-shot for random splits", arguments: [1, 2, 3, 4, 5])
    func chunked(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let data = patternBytes(count: Int.random(in: 0...20_000, using: &rng))
        var crc32 = CRC32(), crc32c = CRC32C(), crc64 = CRC64NVME()
        for piece in randomPieces(data, using: &rng) {
            piece.withUnsafeBytes { bytes in
                crc32.update(bytes)
                crc32c.update(bytes)
                crc64.update(bytes)
            }
        }
        data.withUnsafeBytes { bytes in
            #expect(crc32.value == CRC32.checksum(bytes))
            #expect(crc32c.value == CRC32C.checksum(bytes))
            #expect(crc64.value == CRC64NVME.checksum(bytes))
        }
    }

    @Test("slicing tables agree with the byte-at-a-time definition")
    func tablesAgreeWithBitwise() {
        func bitwise64(_ data: [UInt8]) -> UInt64 {
            var crc: UInt64 = ~0
            for byte in data {
                crc ^= UInt64(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 : crc >> 1 }
            }
            return ~crc
        }
        var rng = SplitMix64(seed: 99)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(data.withUnsafeBytes { CRC64NVME.checksum($0) } == bitwise64(data))
        }
    }

    @Test("ISA-L's CRC-32 and CRC-32C equal the portable kernels", arguments: [11, 12, 13])
    func isalAgreesWithThePortableKernels(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Lengths around ISA-L's block sizes (16, 64, 256 bytes and up) and odd start offsets.
        var lengths = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024, 4096]
        lengths += (0..<20).map { _ in Int.random(in: 0...70_000, using: &rng) }
        for length in lengths {
            let offset = Int.random(in: 0...15, using: &rng)
            let data = (0..<(length + offset)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            data[offset...].withUnsafeBytes { bytes in
                var crc32 = CRC32(), crc32c = CRC32C()
                crc32.update(bytes)
                crc32c.update(bytes)
                #expect(crc32.value == ~CRC32.portableUpdate(0xFFFF_FFFF, bytes), "CRC-32, \(length) bytes at +\(offset)")
                #expect(crc32c.value == ~CRC32C.portableUpdate(0xFFFF_FFFF, bytes), "CRC-32C, \(length) bytes at +\(offset)")
            }
        }
    }

    @Test("the 32-bit slicing tables agree with the bit-by-bit definition")
    func tables32AgreeWithBitwise() {
        func bitwise32(_ data: [UInt8], _ polynomial: UInt32) -> UInt32 {
            var crc: UInt32 = ~0
            for byte in data {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            }
            return ~crc
        }
        var rng = SplitMix64(seed: 98)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            data.withUnsafeBytes { bytes in
                #expect(~CRC32.portableUpdate(0xFFFF_FFFF, bytes) == bitwise32(data, 0xEDB8_8320))
                #expect(~CRC32C.portableUpdate(0xFFFF_FFFF, bytes) == bitwise32(data, 0x82F6_3B78))
            }
        }
    }
}
