/// Bulk conversion of stored elements to the loader's output types, written so the compiler vectorizes it.
enum Widening {
    /// Widens `count` IEEE half values to `Float`, exactly (subnormals, infinities and NaN payloads kept).
    @inline(__always)
    static func f16ToF32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        let input = source.assumingMemoryBound(to: UInt16.self)
        let output = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count {
            let half = UInt32(UInt16(littleEndian: input[i]))
            let sign = (half & 0x8000) << 16
            let magnitude = half & 0x7FFF
            // Moving exponent and mantissa up 13 bits and scaling by 2^112 rebiases the exponent
            // (15 → 127) and normalizes half subnormals; infinities and NaNs take the top exponent.
            let scaled = (Float(bitPattern: magnitude << 13) * 0x1p112).bitPattern
            let special = (magnitude << 13) | 0x7F80_0000
            output[i] = (magnitude >= 0x7C00 ? special : scaled) | sign
        }
    }

    /// Widens `count` bfloat16 values to `Float` (the top 16 bits of a `Float`).
    @inline(__always)
    static func bf16ToF32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        let input = source.assumingMemoryBound(to: UInt16.self)
        let output = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count { output[i] = UInt32(UInt16(littleEndian: input[i])) << 16 }
    }

    /// Copies `byteCount` bytes of `f32` or `i32` values.
    @inline(__always)
    static func copy(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, byteCount: Int) {
        destination.copyMemory(from: source, byteCount: byteCount)
    }
}
