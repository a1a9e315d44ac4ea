/// The resampling filters of Pillow that torchvision's `InterpolationMode` maps to.
public enum Interpolation: String, Sendable, CaseIterable {
    /// Pillow `BILINEAR`: triangle filter, support 1.
    case bilinear
    /// Pillow `BICUBIC`: Keys cubic with a = -0.5, support 2.
    case bicubic

    var support: Double { self == .bilinear ? 1 : 2 }

    @inline(__always) func weight(_ t: Double) -> Double {
        let x = t < 0 ? -t : t
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// The fixed-point coefficients of one separable pass of Pillow's `ImagingResample` for 8-bit images:
/// for each output position the first input index, the number of taps and `taps` weights, computed in
/// double precision exactly as Pillow's `precompute_coeffs`, normalised to sum 1, then rounded away
/// from zero to `precisionBits` fractional bits as `normalize_coeffs_8bpc` does.
struct ResampleKernel {
    /// Pillow's PRECISION_BITS for 8-bit images (32 - 8 - 2).
    static let precisionBits: Int32 = 22

    let inSize: Int
    let outSize: Int
    let interpolation: Interpolation
    /// Maximum taps per output position; the stride of `weights`.
    let taps: Int
    let first: [Int32]
    let count: [Int32]
    let weights: [Int32]

    init(inSize: Int, outSize: Int, interpolation: Interpolation) {
        self.inSize = inSize
        self.outSize = outSize
        self.interpolation = interpolation
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = interpolation.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.taps = taps
        var first = [Int32](repeating: 0, count: outSize)
        var count = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let one = Double(1 << ResampleKernel.precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let inverse = 1 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let w = interpolation.weight((Double(x + xmin) - center + 0.5) * inverse)
                k[x] = w
                total += w
            }
            for x in 0..<max(xmax, 0) {
                if total != 0 { k[x] /= total }
                let scaled = k[x] * one
                weights[xx * taps + x] = Int32(scaled < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            first[xx] = Int32(xmin)
            count[xx] = Int32(max(xmax, 0))
        }
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// The input indices that output positions `outputs` read.
    func inputRange(for outputs: Range<Int>) -> Range<Int> {
        guard !outputs.isEmpty else { return 0..<0 }
        var lower = Int.max, upper = Int.min
        for o in outputs {
            lower = min(lower, Int(first[o]))
            upper = max(upper, Int(first[o] + count[o]))
        }
        return lower..<upper
    }
}
