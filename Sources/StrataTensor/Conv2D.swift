extension Kernels {
    /// The output shape `[N, Cout, Hout, Wout]` of a convolution of `input` (`[N, Cin, H, W]`) by
    /// `weight` (`[Cout, Cin, kh, kw]`), with `Hout = (H + 2·ph - dh·(kh-1) - 1) / sh + 1` (floor), as PyTorch.
    public static func conv2dOutputShape(input: [Int], weight: [Int], stride: Size2D = 1, padding: Size2D = 0,
                                         dilation: Size2D = 1) throws -> [Int] {
        let op = "conv2d"
        guard input.count == 4 else {
            throw TensorError.invalidArgument(operation: op, reason: "input must be [N, C, H, W], got \(input)")
        }
        guard weight.count == 4 else {
            throw TensorError.invalidArgument(operation: op, reason: "weight must be [Cout, Cin, kh, kw], got \(weight)")
        }
        guard input[1] == weight[1] else { throw TensorError.shapeMismatch(operation: op, lhs: input, rhs: weight) }
        guard stride.height >= 1, stride.width >= 1, dilation.height >= 1, dilation.width >= 1,
              padding.height >= 0, padding.width >= 0, weight[2] >= 1, weight[3] >= 1 else {
            throw TensorError.invalidArgument(operation: op,
                reason: "stride \(stride) and dilation \(dilation) must be >= 1, padding \(padding) >= 0, kernel non-empty")
        }
        let spanH = dilation.height * (weight[2] - 1) + 1
        let spanW = dilation.width * (weight[3] - 1) + 1
        let paddedH = input[2] + 2 * padding.height
        let paddedW = input[3] + 2 * padding.width
        guard paddedH >= spanH, paddedW >= spanW else {
            throw TensorError.invalidArgument(operation: op,
                reason: "kernel \(Size2D(spanH, spanW)) (dilated) is larger than the padded input \(Size2D(paddedH, paddedW))")
        }
        return [input[0], weight[0], (paddedH - spanH) / stride.height + 1, (paddedW - spanW) / stride.width + 1]
    }

    /// Floats of `Workspace` that `conv2d(…into:workspace:)` needs for these shapes (0 for a 1x1 stride-1
    /// unpadded kernel, which needs none).
    public static func conv2dWorkspaceCount(input: [Int], weight: [Int], stride: Size2D = 1, padding: Size2D = 0,
                                            dilation: Size2D = 1) throws -> Int {
        let out = try conv2dOutputShape(input: input, weight: weight, stride: stride, padding: padding, dilation: dilation)
        if isPointwise(weight: weight, stride: stride, padding: padding) { return 0 }
        return weight[1] * weight[2] * weight[3] * out[2] * out[3]
    }

    /// 2-D convolution of NCHW `input` by `weight` (`[Cout, Cin, kh, kw]`) plus `bias` (`[Cout]`), then
    /// `activation`, as PyTorch's `conv2d` (symmetric zero padding, no groups).
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                              padding: Size2D = 0, dilation: Size2D = 1, activation: Activation = .none) throws -> Tensor {
        var out = Tensor(zeros: [])
        let workspace = Workspace()
        try conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation,
                   activation: activation, into: &out, workspace: workspace)
        return out
    }

    /// 2-D convolution into `out` (resized as needed), using `workspace` for im2col columns.
    ///
    /// A 1x1 kernel with stride 1 and no padding is one gemm per image, `W[Cout, Cin] · X[Cin, H·W]`;
    /// other kernels unfold each image with `im2col` and multiply `W[Cout, Cin·kh·kw]` by the columns.
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                              padding: Size2D = 0, dilation: Size2D = 1, activation: Activation = .none,
                              into out: inout Tensor, workspace: Workspace) throws {
        let op = "conv2d"
        try requireF32(input, op)
        try requireF32(weight, op)
        let shape = try conv2dOutputShape(input: input.shape, weight: weight.shape, stride: stride,
                                          padding: padding, dilation: dilation)
        try requireVector(bias, length: weight.shape[0], name: "bias", op)
        out.prepareOutput(shape: shape)
        let (batch, inChannels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outChannels, outHeight, outWidth) = (shape[1], shape[2], shape[3])
        let kernel = Size2D(weight.shape[2], weight.shape[3])
        let pointwise = isPointwise(weight: weight.shape, stride: stride, padding: padding)
        let depth = inChannels * kernel.height * kernel.width
        let plane = outHeight * outWidth
        let columns = pointwise ? nil : workspace.floats(depth * plane)
        input.withUnsafeFloats { px in
            weight.withUnsafeFloats { pw in
                withOptionalFloats(bias) { pb in
                    out.withUnsafeMutableFloats { po in
                        guard let x = px.baseAddress, let w = pw.baseAddress, let y = po.baseAddress else { return }
                        for n in 0..<batch {
                            let image = x + n * inChannels * height * width
                            let result = y + n * outChannels * plane
                            if let pb {
                                for c in 0..<outChannels { (result + c * plane).update(repeating: pb[c], count: plane) }
                            }
                            let source: UnsafePointer<Float>
                            if let columns {
                                im2col(image, channels: inChannels, height: height, width: width, kernel: kernel,
                                       stride: stride, padding: padding, dilation: dilation,
                                       outHeight: outHeight, outWidth: outWidth, into: columns)
                                source = UnsafePointer(columns)
                            } else {
                                source = image
                            }
                            gemm(transposeA: false, transposeB: false, m: outChannels, n: plane, k: depth,
                                 a: w, lda: depth, b: source, ldb: plane, beta: pb == nil ? 0 : 1, c: result, ldc: plane)
                        }
                        applyRaw(activation, y, count: po.count)
                    }
                }
            }
        }
    }

    static func isPointwise(weight: [Int], stride: Size2D, padding: Size2D) -> Bool {
        weight[2] == 1 && weight[3] == 1 && stride == 1 && padding == 0
    }
}
