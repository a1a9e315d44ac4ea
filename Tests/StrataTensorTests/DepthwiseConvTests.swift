import Testing
@testable import StrataTensor
import StrataTestSupport

@Suite struct DepthwiseConvTests {
    /// (fixture, kernel, stride, activation), matching make_tensor_fixtures.py (TensorFlow "SAME" padding).
    static let cases: [(String, Int, Int, Activation)] = [
        ("dw_k3_s1", 3, 1, .relu6),
        ("dw_k3_s2_odd", 3, 2, .none),
        ("dw_k5_s2_even", 5, 2, .relu6),
        ("dw_k5_s1_tiny", 5, 1, .none),
    ]

    @Test(arguments: cases.indices)
    func matchesPyTorchGroupedConvolution(index: Int) throws {
        let (name, kernel, stride, activation) = Self.cases[index]
        let x = try Fixture.load("\(name)_x")
        let padding = Padding2D.same(input: Size2D(x.shape[2], x.shape[3]), kernel: Size2D(kernel, kernel),
                                     stride: Size2D(stride, stride))
        let y = try Kernels.depthwiseConv2d(x, weight: try Fixture.load("\(name)_w"), bias: try Fixture.load("\(name)_b"),
                                            stride: Size2D(stride, stride), padding: padding, activation: activation)
        expectMatches(y, try Fixture.load("\(name)_y"), name)
    }

    /// The definition, one output at a time: zero outside the input, then bias, then the activation.
    static func naive(_ x: Tensor, _ w: Tensor, _ bias: [Float], stride: Size2D, padding: Padding2D,
                      activation: Activation) throws -> Tensor {
        let (n, c, h, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (w.shape[2], w.shape[3])
        let outH = (h + padding.top + padding.bottom - kh) / stride.height + 1
        let outW = (width + padding.left + padding.right - kw) / stride.width + 1
        let xs = x.floats, ws = w.floats
        var out = [Float](repeating: 0, count: n * c * outH * outW)
        for b in 0..<n {
            for ch in 0..<c {
                for oy in 0..<outH {
                    for ox in 0..<outW {
                        var sum = bias[ch]
                        for i in 0..<kh {
                            for j in 0..<kw {
                                let iy = oy * stride.height - padding.top + i
                                let ix = ox * stride.width - padding.left + j
                                guard iy >= 0, iy < h, ix >= 0, ix < width else { continue }
                                sum += ws[(ch * kh + i) * kw + j] * xs[((b * c + ch) * h + iy) * width + ix]
                            }
                        }
                        out[((b * c + ch) * outH + oy) * outW + ox] = sum
                    }
                }
            }
        }
        var result = try Tensor(shape: [n, c, outH, outW], floats: out)
        try Kernels.apply(activation, to: &result)
        return result
    }

    @Test func matchesTheDefinitionOverManyGeometries() throws {
        var generator = SeededValues(seed: 17)
        func values(_ count: Int) -> [Float] { generator.floats(count, scale: 4) }
        let paddings = [Padding2D(0), Padding2D(1), Padding2D(top: 0, left: 1, bottom: 2, right: 0),
                        Padding2D(top: 3, left: 2, bottom: 0, right: 3)]
        var out = Tensor(zeros: [0])
        var checked = 0
        for (height, width) in [(1, 1), (5, 8), (9, 4), (16, 17)] {
            for kernel in [Size2D(1, 1), Size2D(3, 3), Size2D(5, 5), Size2D(3, 2)] {
                for stride in [Size2D(1, 1), Size2D(2, 2), Size2D(2, 3)] {
                    for padding in paddings {
                        guard height + padding.top + padding.bottom >= kernel.height,
                              width + padding.left + padding.right >= kernel.width else { continue }
                        let x = try Tensor(shape: [2, 3, height, width], floats: values(6 * height * width))
                        let w = try Tensor(shape: [3, 1, kernel.height, kernel.width], floats: values(3 * kernel.height * kernel.width))
                        let bias = values(3)
                        try Kernels.depthwiseConv2d(x, weight: w, bias: try Tensor(shape: [3], floats: bias), stride: stride,
                                                    padding: padding, activation: .relu6, into: &out)
                        let expected = try Self.naive(x, w, bias, stride: stride, padding: padding, activation: .relu6)
                        expectMatches(out, expected, "\(height)x\(width) kernel \(kernel) stride \(stride) padding \(padding)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 150)
    }

    @Test func theVectorKernelGivesThePortableKernelsValues() throws {
        guard Kernels.vectorDepthwise else {
            Issue.record("this CPU has no AVX: only the portable depthwise kernel runs here")
            return
        }
        var generator = SeededValues(seed: 23)
        func values(_ count: Int) -> [Float] { generator.floats(count, scale: 3) }
        var vector = Tensor(zeros: [0]), portable = Tensor(zeros: [0])
        var checked = 0
        for (height, width) in [(1, 1), (7, 7), (9, 20), (14, 14), (31, 33), (112, 112)] {
            for side in [1, 3, 5] {
                for stride in [1, 2] {
                    let kernel = Size2D(side, side)
                    for padding in [Padding2D(0), Padding2D.same(input: Size2D(height, width), kernel: kernel, stride: Size2D(stride, stride)),
                                    Padding2D(top: 2, left: 0, bottom: 1, right: 3)] {
                        guard height + padding.top + padding.bottom >= side, width + padding.left + padding.right >= side else { continue }
                        let x = try Tensor(shape: [1, 4, height, width], floats: values(4 * height * width))
                        let w = try Tensor(shape: [4, 1, side, side], floats: values(4 * side * side))
                        let bias = try Tensor(shape: [4], floats: values(4))
                        try Kernels.depthwiseConv2d(x, weight: w, bias: bias, stride: Size2D(stride, stride), padding: padding,
                                                    activation: .relu6, vector: true, into: &vector)
                        try Kernels.depthwiseConv2d(x, weight: w, bias: bias, stride: Size2D(stride, stride), padding: padding,
                                                    activation: .relu6, vector: false, into: &portable)
                        #expect(vector.shape == portable.shape && vector.floats == portable.floats,
                                "\(height)x\(width) kernel \(side) stride \(stride) padding \(padding)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 80)
    }

    @Test func samePaddingPutsTheOddRowAfter() {
        #expect(Padding2D.same(input: Size2D(224, 224), kernel: 3, stride: 2) == Padding2D(top: 0, left: 0, bottom: 1, right: 1))
        #expect(Padding2D.same(input: Size2D(50, 25), kernel: 5, stride: 2) == Padding2D(top: 1, left: 2, bottom: 2, right: 2))
        #expect(Padding2D.same(input: Size2D(7, 7), kernel: 3, stride: 1) == Padding2D(1))
        #expect(Padding2D.same(input: Size2D(7, 7), kernel: 1, stride: 1) == Padding2D(0))
    }

    @Test func convolutionWithSamePaddingEqualsExplicitZeroPadding() throws {
        // A dense 3x3 stride-2 convolution on an even map pads one row and column, at the bottom and right only.
        var generator = SeededValues(seed: 5)
        func values(_ count: Int) -> [Float] { generator.floats(count, scale: 2) }
        let x = try Tensor(shape: [1, 2, 6, 8], floats: values(96))
        let w = try Tensor(shape: [3, 2, 3, 3], floats: values(54))
        var padded = [Float](repeating: 0, count: 2 * 7 * 9)
        let xs = x.floats
        for c in 0..<2 { for y in 0..<6 { for i in 0..<8 { padded[(c * 7 + y) * 9 + i] = xs[(c * 6 + y) * 8 + i] } } }
        let expected = try Kernels.conv2d(try Tensor(shape: [1, 2, 7, 9], floats: padded), weight: w, stride: 2)
        var out = Tensor(zeros: [0])
        try Kernels.conv2d(x, weight: w, stride: 2, padding: Padding2D.same(input: Size2D(6, 8), kernel: 3, stride: 2),
                           into: &out, workspace: Workspace())
        expectMatches(out, expected, "same-padded conv2d")
    }

    @Test func rejectsAWeightThatIsNotOneFilterPerChannel() {
        #expect(throws: TensorError.self) {
            try Kernels.depthwiseConv2d(Tensor(zeros: [1, 4, 5, 5]), weight: Tensor(zeros: [4, 2, 3, 3]))
        }
        #expect(throws: TensorError.self) {
            try Kernels.depthwiseConv2d(Tensor(zeros: [1, 4, 5, 5]), weight: Tensor(zeros: [3, 1, 3, 3]))
        }
    }
}

/// Deterministic test values (a linear congruential generator).
struct SeededValues {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    /// `count` values in [-scale, scale].
    mutating func floats(_ count: Int, scale: Float) -> [Float] {
        (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }
}
