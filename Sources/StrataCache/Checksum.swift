import CLMDB

/// CRC-32 with zlib's polynomial (Python: `zlib.crc32(value)`), the checksum stored beside every value.
public enum Checksum {
    /// The CRC-32 of `bytes`.
    @inline(__always)
    public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return strata_crc32(0, base, bytes.count)
    }

    /// The CRC-32 of what `crc` covered followed by `bytes` (start with 0).
    public static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return strata_crc32(crc, base, bytes.count)
    }

    /// The CRC-32 of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }
}
