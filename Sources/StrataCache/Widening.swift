import CStrataKernels
import StrataTensor

/// Bulk conversion of stored elements to the loader's output types: F16C instructions where the CPU has
/// them, else portable code written so the compiler vectorizes it. Both give the same floats (a NaN stays
/// a NaN).
enum Widening {
    /// Whether the F16C kernels run here.
    static let hasF16C = strata_f16c_available() != 0

    /// Widens `count` IEEE half values to `Float`, exactly.
    @inline(__always)
    static func f16ToF32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        if hasF16C {
            strata_f16_to_f32_f16c(source.assumingMemoryBound(to: UInt16.self), destination, count)
        } else {
            portableF16ToF32(source, destination, count: count)
        }
    }

    /// Widens (or copies) `count` stored elements of `dtype` into `Float`s (`i32` bits are copied as they are).
    static func widen(_ source: UnsafeRawPointer, _ dtype: DType, into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f16: f16ToF32(source, destination, count: count)
        case .bf16: bf16ToF32(source, destination, count: count)
        case .f32, .i32: copy(source, UnsafeMutableRawPointer(destination), byteCount: count * 4)
        }
    }

    /// Widens a channels-first `[channels, positions]` map of `dtype` into a positions-first float map
    /// (`destination[p * channels + c]`): f16 in one pass where the CPU has F16C, else widened into
    /// `scratch` (`channels * positions` floats) and transposed.
    static func widenTransposed(_ source: UnsafeRawPointer, _ dtype: DType, channels: Int, positions: Int,
                                into destination: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        if dtype == .f16, hasF16C {
            strata_f16_to_f32_transposed_f16c(source.assumingMemoryBound(to: UInt16.self), channels, positions, destination)
        } else {
            widen(source, dtype, into: scratch, count: channels * positions)
            transpose(scratch, channels: channels, positions: positions, into: destination)
        }
    }

    /// `destination[p * channels + c] = source[c * positions + p]`, in cache-friendly blocks of channels.
    static func transpose(_ source: UnsafePointer<Float>, channels: Int, positions: Int, into destination: UnsafeMutablePointer<Float>) {
        for c0 in stride(from: 0, to: channels, by: 16) {
            let c1 = min(c0 + 16, channels)
            for p in 0..<positions {
                let row = destination + p * channels
                for c in c0..<c1 { row[c] = source[c * positions + p] }
            }
        }
    }

    /// Widens `count` IEEE half values to `Float`, exactly (subnormals, infinities and NaN payloads kept),
    /// without F16C.
    ///
    /// Branch-free integer arithmetic that the compiler turns into SIMD code; no step touches a
    /// denormal float, which would take the slow microcode path.
    @inline(__always)
    static func portableF16ToF32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
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
