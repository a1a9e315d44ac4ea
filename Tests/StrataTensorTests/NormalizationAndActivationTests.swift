import Foundation
import Testing
@testable import StrataTensor

@Suite struct NormalizationAndActivationTests {
    @Test func layerNormOverTheLastDimension() throws {
        let x = try Fixture.load("ln_x"), w = try Fixture.load("ln_w"), b = try Fixture.load("ln_b")
        expectMatches(try Kernels.layerNorm(x, weight: w, bias: b, eps: 1e-12), try Fixture.load("ln_y_eps1e-12"), "eps 1e-12")
        expectMatches(try Kernels.layerNorm(x, weight: nil, bias: nil), try Fixture.load("ln_y_noaffine"), "no affine")
        var inPlace = x
        try Kernels.layerNormInPlace(&inPlace, weight: w, bias: b, eps: 1e-6)
        expectMatches(inPlace, try Fixture.load("ln_y_eps1e-6"), "in place, eps 1e-6")
        #expect(x.floats != inPlace.floats)  // the original is untouched (copy on write)
        #expect(throws: TensorError.self) { try Kernels.layerNorm(x, weight: try Fixture.load("linear_b"), bias: nil) }
    }

    @Test func activations() throws {
        let x = try Fixture.load("act_x")
        expectMatches(try Kernels.gelu(x), try Fixture.load("act_gelu"), "gelu")
        expectMatches(try Kernels.tanh(x), try Fixture.load("act_tanh"), "tanh")
        expectMatches(try Kernels.relu(x), try Fixture.load("act_relu"), "relu")
    }

    @Test(.enabled(if: GemmBackend.usesStrataKernels, "compares the AVX-512 GELU, which runs with Strata's kernels"))
    func geluOnAVX512AgreesWithThePortableLoop() {
        // A sweep across erf's clamp at |x/√2| = 4, the specials, and lengths with a partial last vector.
        var values = stride(from: Float(-9), through: 9, by: 0.0137).map { $0 }
        values += [0, -0, .infinity, -.infinity, .nan, 1e-30, -1e30, .leastNonzeroMagnitude]
        for count in [values.count, 1, 15, 16, 17] {
            var fast = Array(values.prefix(count)), portable = fast
            fast.withUnsafeMutableBufferPointer { Kernels.geluRaw($0.baseAddress!, count: count) }
            portable.withUnsafeMutableBufferPointer { Kernels.geluPortable($0.baseAddress!, count: count) }
            for (a, b) in zip(fast, portable) {
                let agree = a.isNaN ? b.isNaN : a == b || abs(a - b) <= 2e-6 * max(1, abs(b))
                #expect(agree, "gelu: \(a) against \(b)")
            }
        }
    }

    @Test func residualAndBiasAdds() throws {
        let x = try Fixture.load("act_x")
        var sum = x
        try Kernels.addInPlace(&sum, x, activation: .relu)
        #expect(sum.floats == x.floats.map { max(2 * $0, 0) })
        let bias = try Tensor(shape: [64], floats: (0..<64).map { Float($0) })
        let biased = try Kernels.addBias(x, bias).floats
        #expect(biased[64 + 5] == x.floats[64 + 5] + 5)
        var image = Tensor(zeros: [2, 3, 2, 2])
        try Kernels.addChannelBiasInPlace(&image, try Tensor(shape: [3], floats: [1, 2, 3]))
        #expect(image.floats == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        #expect(throws: TensorError.self) { try Kernels.add(x, bias) }
    }

    @Test func softmaxIsStableOnLargeLogits() throws {
        expectMatches(try Kernels.softmax(try Fixture.load("softmax_x")), try Fixture.load("softmax_y"), "softmax")
        let masked = try Tensor(shape: [2, 3], floats: [-.infinity, -.infinity, -.infinity, 0, -.infinity, 0])
        #expect(try Kernels.softmax(masked).floats == [0, 0, 0, 0.5, 0, 0.5])
    }
}
