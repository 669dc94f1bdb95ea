import CISAL

/// Streaming CRC-32 (IEEE 802.3; the same value as zlib's `crc32` and S3's `CRC32`).
///
/// ISA-L's `crc32_gzip_refl`, which folds with carry-less multiplies (30 GB/s on this machine
/// kind, against 1.4 GB/s for the portable slicing-by-8 kernel, ``portableUpdate(_:_:)``, kept
/// as the tests' reference). Check value: `"123456789"` → `0xCBF43926`.
public struct CRC32: Sendable, Equatable {
    var state: UInt32 = 0xFFFF_FFFF

    /// Starts an empty checksum.
    public init() {}

    /// Feeds `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // ISA-L takes and returns the finished value (the register inverted), as zlib does.
        state = ~crc32_gzip_refl(~state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// The register after `bytes`, by the portable kernel (slicing-by-8).
    static func portableUpdate(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRCTables.crc32.withUnsafeBufferPointer { tables in
            CRCKernel.update32(state, bytes, tables: tables.baseAddress!)
        }
    }

    /// The checksum of everything fed so far (does not end the stream).
    public var value: UInt32 { ~state }

    /// The CRC-32 of `bytes` in one call.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}

/// Streaming CRC-32C (Castagnoli; S3's `CRC32C`).
///
/// ISA-L's `crc32_iscsi`, on the CPU's CRC-32C instruction and carry-less multiplies; the
/// portable slicing-by-8 kernel, ``portableUpdate(_:_:)``, is the tests' reference. Check
/// value: `"123456789"` → `0xE3069283`.
public struct CRC32C: Sendable, Equatable {
    var state: UInt32 = 0xFFFF_FFFF

    /// Starts an empty checksum.
    public init() {}

    /// Feeds `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        // ISA-L takes and returns the register itself; its length is an `int` (and it only
        // reads the bytes, though its pointer is not `const`).
        var pointer = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        var remaining = bytes.count
        while remaining > 0 {
            let count = min(remaining, 1 << 30)
            state = crc32_iscsi(pointer, Int32(count), state)
            pointer += count
            remaining -= count
        }
    }

    /// The register after `bytes`, by the portable kernel (slicing-by-8).
    static func portableUpdate(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRCTables.crc32c.withUnsafeBufferPointer { tables in
            CRCKernel.update32(state, bytes, tables: tables.baseAddress!)
        }
    }

    /// The checksum of everything fed so far (does not end the stream).
    public var value: UInt32 { ~state }

    /// The CRC-32C of `bytes` in one call.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }
}

/// Streaming CRC-64/NVME (S3's `CRC64NVME`): reflected polynomial 0x9A6C9329AC4BC9B5
/// (normal form 0xAD93D23594C93659), init and xorout all ones.
///
/// Pure Swift, slicing-by-8 (Debian 12's ISA-L has no CRC-64/NVME). Check value: `"123456789"` →
/// `0xAE8B14860A799888`.
public struct CRC64NVME: Sendable, Equatable {
    var state: UInt64 = 0xFFFF_FFFF_FFFF_FFFF

    /// Starts an empty checksum.
    public init() {}

    /// Feeds `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        state = CRCTables.crc64nvme.withUnsafeBufferPointer { tables in
            CRCKernel.update64(state, bytes, tables: tables.baseAddress!)
        }
    }

    /// The checksum of everything fed so far (does not end the stream).
    public var value: UInt64 { ~state }

    /// The CRC-64/NVME of `bytes` in one call.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = CRC64NVME()
        crc.update(bytes)
        return crc.value
    }
}
