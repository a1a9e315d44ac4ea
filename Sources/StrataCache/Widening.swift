/// Bulk conversion of stored elements to the loader's output types, written so the compiler vectorizes it.
enum Widening {
    /// Widens `count` IEEE half values to `Float`, exactly (subnormals, infinities and NaN payloads kept).
    ///
    /// Branch-free integer arithmetic that the compiler turns into SIMD code; no step touches a
    /// denormal float, which would take the slow microcode path.
    @inline(__always)
    static func f16ToF32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        let input = source.assumingMemoryBound(to: UInt16.self)
        let output = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Int32.self)
        for i in 0..<count {
            let half = Int32(UInt16(littleEndian: input[i]))
            let sign = (half & 0x8000) << 16
            let magnitude = half & 0x7FFF
            let shifted = magnitude << 13
            // All ones where the half is zero or subnormal, resp. infinite or NaN.
            let subnormalMask = (magnitude &- 0x0400) >> 31
            let specialMask = (0x7BFF &- magnitude) >> 31
            // Normal: rebias the exponent from 15 to 127. Subnormal: mantissa × 2^-24, exact in a Float.
            let normal = shifted &+ 0x3800_0000
            let subnormal = Int32(bitPattern: (Float(magnitude) * 0x1p-24).bitPattern)
            let special = shifted | 0x7F80_0000
            var bits = (normal & ~subnormalMask) | (subnormal & subnormalMask)
            bits = (bits & ~specialMask) | (special & specialMask)
            output[i] = bits | sign
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
