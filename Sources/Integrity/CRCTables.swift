/// Slicing-by-8 lookup tables for the reflected CRCs, built once on first use.
///
/// Layout: 8 consecutive tables of 256 entries. Table 0 is the classic byte-at-a-time
/// table; table k advances a byte that sits k positions further into the 8-byte word.
enum CRCTables {
    /// CRC-32 (IEEE), reflected polynomial.
    static let crc32: [UInt32] = makeTables32(reflectedPolynomial: 0xEDB8_8320)
    /// CRC-32C (Castagnoli), reflected polynomial.
    static let crc32c: [UInt32] = makeTables32(reflectedPolynomial: 0x82F6_3B78)
    /// CRC-64/NVME, reflected polynomial.
    static let crc64nvme: [UInt64] = makeTables64(reflectedPolynomial: 0x9A6C_9329_AC4B_C9B5)

    /// Builds the 8 × 256 tables of a reflected 32-bit CRC.
    static func makeTables32(reflectedPolynomial poly: UInt32) -> [UInt32] {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ poly : crc >> 1
            }
            table[index] = crc
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = table[(slice - 1) * 256 + index]
                table[slice * 256 + index] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }

    /// Builds the 8 × 256 tables of a reflected 64-bit CRC.
    static func makeTables64(reflectedPolynomial poly: UInt64) -> [UInt64] {
        var table = [UInt64](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt64(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ poly : crc >> 1
            }
            table[index] = crc
        }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = table[(slice - 1) * 256 + index]
                table[slice * 256 + index] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }
}

/// The slicing-by-8 kernels. `state` is the running register (already inverted: callers
/// start from all ones and invert at the end).
enum CRCKernel {
    /// Advances a reflected 32-bit CRC register over `bytes` using `tables` (8 × 256).
    @inline(__always)
    static func update32(
        _ state: UInt32, _ bytes: UnsafeRawBufferPointer, tables: UnsafePointer<UInt32>
    ) -> UInt32 {
        guard var pointer = bytes.baseAddress else { return state }
        var remaining = bytes.count
        var crc = state
        let t = tables
        while remaining >= 8 {
            let low = crc ^ UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self))
            let high = UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let a = t[1792 + Int(low & 0xFF)] ^ t[1536 + Int((low >> 8) & 0xFF)]
            let b = t[1280 + Int((low >> 16) & 0xFF)] ^ t[1024 + Int(low >> 24)]
            let c = t[768 + Int(high & 0xFF)] ^ t[512 + Int((high >> 8) & 0xFF)]
            let d = t[256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
            crc = (a ^ b) ^ (c ^ d)
            pointer += 8
            remaining -= 8
        }
        while remaining > 0 {
            let byte = UInt32(pointer.load(as: UInt8.self))
            crc = t[Int((crc ^ byte) & 0xFF)] ^ (crc >> 8)
            pointer += 1
            remaining -= 1
        }
        return crc
    }

    /// Advances a reflected 64-bit CRC register over `bytes` using `tables` (8 × 256).
    @inline(__always)
    static func update64(
        _ state: UInt64, _ bytes: UnsafeRawBufferPointer, tables: UnsafePointer<UInt64>
    ) -> UInt64 {
        guard var pointer = bytes.baseAddress else { return state }
        var remaining = bytes.count
        var crc = state
        let t = tables
        while remaining >= 8 {
            let word = crc ^ UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
            let a = t[1792 + Int(word & 0xFF)] ^ t[1536 + Int((word >> 8) & 0xFF)]
            let b = t[1280 + Int((word >> 16) & 0xFF)] ^ t[1024 + Int((word >> 24) & 0xFF)]
            let c = t[768 + Int((word >> 32) & 0xFF)] ^ t[512 + Int((word >> 40) & 0xFF)]
            let d = t[256 + Int((word >> 48) & 0xFF)] ^ t[Int(word >> 56)]
            crc = (a ^ b) ^ (c ^ d)
            pointer += 8
            remaining -= 8
        }
        while remaining > 0 {
            let byte = UInt64(pointer.load(as: UInt8.self))
            crc = t[Int((crc ^ byte) & 0xFF)] ^ (crc >> 8)
            pointer += 1
            remaining -= 1
        }
        return crc
    }
}
