/// Finds NaNs and infinities in stored floating-point values by their bits (no conversion): a value is
/// non-finite when its exponent bits are all ones.
public enum Finite {
    /// The index of the first NaN or infinity among the `dtype` values in `bytes` (little-endian), or
    /// nil when all are finite or the dtype is an integer one.
    public static func firstNonFinite(bytes: UnsafeRawBufferPointer, dtype: DType) -> Int? {
        switch dtype {
        case .f32: return first(bytes, as: UInt32.self, mask: 0x7F80_0000)
        case .f16: return first(bytes, as: UInt16.self, mask: 0x7C00)
        case .bf16: return first(bytes, as: UInt16.self, mask: 0x7F80)
        default: return nil
        }
    }

    private static func first<Bits: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: Bits.Type, mask: Bits) -> Int? {
        let count = bytes.count / MemoryLayout<Bits>.size
        let block = 1024
        var start = 0
        while start < count {
            let end = min(start + block, count)
            // A branch-free pass over the block; the index is looked for only when it holds one.
            var any = false
            for i in start..<end {
                let bits = Bits(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<Bits>.size, as: Bits.self))
                any = any || (bits & mask == mask)
            }
            if any {
                for i in start..<end {
                    let bits = Bits(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<Bits>.size, as: Bits.self))
                    if bits & mask == mask { return i }
                }
            }
            start = end
        }
        return nil
    }
}

extension Tensor {
    /// The index of the first NaN or infinity (f32, f16 and bf16 tensors), or nil.
    public var firstNonFinite: Int? {
        withUnsafeBytes { Finite.firstNonFinite(bytes: $0, dtype: dtype) }
    }
}
