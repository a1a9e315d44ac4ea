import Testing
import StrataTensor

@Suite struct ConvTests {
    /// (fixture, stride, padding, dilation, activation), matching make_tensor_fixtures.py.
    static let cases: [(String, Size2D, Size2D, Size2D, Activation)] = [
        ("conv_3x3_s2_p1", 2, 1, 1, .none),
        ("conv_1x1", 1, 0, 1, .relu),
        ("conv_1x1_s2", 2, 0, 1, .none),
        ("conv_7x7_s2_p3", 2, 3, 1, .relu),
        ("conv_3x5_mixed", Size2D(2, 1), Size2D(0, 2), Size2D(2, 1), .none),
        ("conv_patch_4x4", 4, 0, 1, .none),
        ("conv_3x3_wide", 1, 1, 1, .none),
        ("conv_3x3_big_batch", 1, 1, 1, .relu),
        ("conv_1x1_big_batch", 1, 0, 1, .none),
    ]

    @Test(arguments: cases.indices)
    func convolutionMatchesPyTorch(index: Int) throws {
        let (name, stride, padding, dilation, activation) = Self.cases[index]
        let x = try Fixture.load("\(name)_x"), w = try Fixture.load("\(name)_w")
        let bias = try? Fixture.load("\(name)_b")
        let y = try Kernels.conv2d(x, weight: w, bias: bias, stride: stride, padding: padding,
                                   dilation: dilation, activation: activation)
        expectMatches(y, try Fixture.load("\(name)_y"), name)
    }

    @Test func reusedOutputAndWorkspaceGiveTheSameResults() throws {
        let workspace = Workspace()
        var out = Tensor(zeros: [0])
        for (name, stride, padding, dilation, activation) in Self.cases + Self.cases {
            let x = try Fixture.load("\(name)_x"), w = try Fixture.load("\(name)_w")
            try Kernels.conv2d(x, weight: w, bias: try? Fixture.load("\(name)_b"), stride: stride, padding: padding,
                               dilation: dilation, activation: activation, into: &out, workspace: workspace)
            expectMatches(out, try Fixture.load("\(name)_y"), "\(name) (reused buffers)")
        }
    }

    @Test func workspaceCountIsEnough() throws {
        #expect(try Kernels.conv2dWorkspaceCount(input: [1, 5, 8, 6], weight: [6, 5, 1, 1]) == 0)
        for (name, stride, padding, dilation, activation) in Self.cases {
            let x = try Fixture.load("\(name)_x"), w = try Fixture.load("\(name)_w")
            let count = try Kernels.conv2dWorkspaceCount(input: x.shape, weight: w.shape, stride: stride,
                                                         padding: padding, dilation: dilation)
            let workspace = Workspace(capacity: count)
            var out = Tensor(zeros: [0])
            try Kernels.conv2d(x, weight: w, bias: try? Fixture.load("\(name)_b"), stride: stride, padding: padding,
                               dilation: dilation, activation: activation, into: &out, workspace: workspace)
            #expect(workspace.capacity == max(count, 16), "\(name): the workspace had to grow")
        }
    }

    @Test func imagesConvolvedOneByOneMatchTheBatch() throws {
        // Batches of small maps share one gemm; single images take the per-image path.
        for (name, stride, padding, dilation, activation) in Self.cases {
            let x = try Fixture.load("\(name)_x"), w = try Fixture.load("\(name)_w")
            let reference = try Fixture.load("\(name)_y")
            let (batch, inSize, outSize) = (x.shape[0], x.count / x.shape[0], reference.count / x.shape[0])
            for n in 0..<batch {
                let image = try Tensor(shape: [1] + x.shape.dropFirst(), floats: Array(x.floats[(n * inSize)..<((n + 1) * inSize)]))
                let y = try Kernels.conv2d(image, weight: w, bias: try? Fixture.load("\(name)_b"), stride: stride,
                                           padding: padding, dilation: dilation, activation: activation)
                let expected = try Tensor(shape: [1] + reference.shape.dropFirst(),
                                          floats: Array(reference.floats[(n * outSize)..<((n + 1) * outSize)]))
                expectMatches(y, expected, "\(name) image \(n)")
            }
        }
    }

    @Test func resNetStemOnANonSquareImage() throws {
        let x = try Fixture.load("stem192x256_x").converted(to: .f32)
        let y = try Kernels.conv2d(x, weight: try Fixture.load("stem192x256_w"), bias: try Fixture.load("stem192x256_b"),
                                   stride: 2, padding: 3, activation: .relu)
        expectMatches(y, try Fixture.load("stem192x256_conv"), "stem conv 192x256")
        expectMatches(try Kernels.maxPool2d(y, kernel: 3, stride: 2, padding: 1), try Fixture.load("stem192x256_pool"),
                      "stem pool 192x256")
    }

    @Test func batchNormFoldsIntoTheConvolution() throws {
        let folded = try Kernels.foldBatchNorm(
            weight: try Fixture.load("bn_conv_w"), bias: try Fixture.load("bn_conv_b"),
            gamma: try Fixture.load("bn_gamma"), beta: try Fixture.load("bn_beta"),
            mean: try Fixture.load("bn_mean"), variance: try Fixture.load("bn_var"), eps: 1e-3)
        let y = try Kernels.conv2d(try Fixture.load("bn_x"), weight: folded.weight, bias: folded.bias, padding: 1)
        expectMatches(y, try Fixture.load("bn_y"), "conv + batch norm")
    }

    @Test func badGeometryThrows() throws {
        let x = try Fixture.load("conv_1x1_x"), w = try Fixture.load("conv_3x3_s2_p1_w")
        #expect(throws: TensorError.self) { try Kernels.conv2d(x, weight: w) }  // channel mismatch
        let big = Tensor(zeros: [1, 5, 9, 9])
        #expect(throws: TensorError.self) { try Kernels.conv2d(x, weight: big) }  // kernel larger than input
        #expect(throws: TensorError.self) { try Kernels.conv2d(x, weight: try Fixture.load("conv_1x1_w"), stride: 0) }
    }
}
