/// Branch-free `Float` approximations written so the compiler vectorises the loops that call them
/// (no library calls, no trapping conversions).
enum FastMath {
    /// `erf(x)` to within 5e-7 absolute: a rational odd/even polynomial on `x` clamped to [-4, 4]
    /// (where `erf` is 1 to float precision). NaN stays NaN.
    @inline(__always)
    static func erf(_ value: Float) -> Float {
        let x = value < -4 ? -4 : (value > 4 ? 4 : value)
        let x2 = x * x
        var p: Float = -2.72614225801306e-10
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        var q: Float = -1.45660718464996e-05
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return x * p / q
    }

    /// `exp(x)` to within 5e-7 relative (Cephes' polynomial after range reduction by `ln 2`); 0 below -87.3
    /// (including `-inf`), `exp(88.3)` above 88.3. NaN stays NaN.
    @inline(__always)
    static func exp(_ value: Float) -> Float {
        let x = value < -87.3 ? -87.3 : (value > 88.3 ? 88.3 : value)
        // Round x·log2(e) to the nearest integer n with the 1.5·2^23 trick; n also sits in the low bits.
        let shifted = x * 1.44269504088896341 + 12582912
        let n = shifted - 12582912
        let r = (x - n * 0.693359375) + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * r * r + r + 1
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        let result = y * Float(bitPattern: exponent)
        return value < -87.3 ? 0 : result
    }

    /// The sum of `count` floats, accumulated in 8 lanes.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    /// The largest of `count` floats (`-inf` when empty; NaN entries are skipped), compared in 8 lanes.
    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
            i += 8
        }
        var top = lanes.max()
        while i < count {
            if x[i] > top { top = x[i] }
            i += 1
        }
        return top
    }

    /// `Σ (x[i] - mean)²` over `count` floats, accumulated in 8 lanes.
    @inline(__always)
    static func squaredDeviation(_ x: UnsafePointer<Float>, count: Int, mean: Float) -> Float {
        var lanes = SIMD8<Float>()
        let center = SIMD8<Float>(repeating: mean)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 8 <= count {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = x[i] - mean
            total += d * d
            i += 1
        }
        return total
    }
}
