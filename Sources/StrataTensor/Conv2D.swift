extension Kernels {
    /// The output shape `[N, Cout, Hout, Wout]` of a convolution of `input` (`[N, Cin, H, W]`) by
    /// `weight` (`[Cout, Cin, kh, kw]`), with `Hout = (H + 2·ph - dh·(kh-1) - 1) / sh + 1` (floor), as PyTorch.
    public static func conv2dOutputShape(input: [Int], weight: [Int], stride: Size2D = 1, padding: Size2D = 0,
                                         dilation: Size2D = 1) throws -> [Int] {
        try conv2dOutputShape(input: input, weight: weight, stride: stride, padding: Padding2D(padding), dilation: dilation)
    }

    /// The output shape of a convolution with padding that may differ on each side (e.g. TensorFlow's
    /// "SAME", `Padding2D.same`): `Hout = (H + top + bottom - dh·(kh-1) - 1) / sh + 1` (floor).
    public static func conv2dOutputShape(input: [Int], weight: [Int], stride: Size2D = 1, padding: Padding2D,
                                         dilation: Size2D = 1) throws -> [Int] {
        let op = "conv2d"
        guard input.count == 4 else {
            throw TensorError.invalidArgument(operation: op, reason: "input must be [N, C, H, W], got \(input)")
        }
        guard weight.count == 4 else {
            throw TensorError.invalidArgument(operation: op, reason: "weight must be [Cout, Cin, kh, kw], got \(weight)")
        }
        guard input[1] == weight[1] else { throw TensorError.shapeMismatch(operation: op, lhs: input, rhs: weight) }
        let plane = try paddedOutputSize(input: Size2D(input[2], input[3]), kernel: Size2D(weight[2], weight[3]),
                                         stride: stride, padding: padding, dilation: dilation, op)
        return [input[0], weight[0], plane.height, plane.width]
    }

    /// The output plane of a sliding window over a padded map, after checking the geometry.
    static func paddedOutputSize(input: Size2D, kernel: Size2D, stride: Size2D, padding: Padding2D, dilation: Size2D,
                                 _ op: String) throws -> Size2D {
        guard stride.height >= 1, stride.width >= 1, dilation.height >= 1, dilation.width >= 1,
              min(padding.top, padding.left, padding.bottom, padding.right) >= 0,
              kernel.height >= 1, kernel.width >= 1 else {
            throw TensorError.invalidArgument(operation: op,
                reason: "stride \(stride) and dilation \(dilation) must be >= 1, padding \(padding) >= 0, kernel non-empty")
        }
        let spanH = dilation.height * (kernel.height - 1) + 1
        let spanW = dilation.width * (kernel.width - 1) + 1
        let paddedH = input.height + padding.top + padding.bottom
        let paddedW = input.width + padding.left + padding.right
        guard paddedH >= spanH, paddedW >= spanW else {
            throw TensorError.invalidArgument(operation: op,
                reason: "kernel \(Size2D(spanH, spanW)) (dilated) is larger than the padded input \(Size2D(paddedH, paddedW))")
        }
        return Size2D((paddedH - spanH) / stride.height + 1, (paddedW - spanW) / stride.width + 1)
    }

    /// Floats of `Workspace` that `conv2d(…into:workspace:)` needs for these shapes.
    public static func conv2dWorkspaceCount(input: [Int], weight: [Int], stride: Size2D = 1, padding: Size2D = 0,
                                            dilation: Size2D = 1) throws -> Int {
        try conv2dWorkspaceCount(input: input, weight: weight, stride: stride, padding: Padding2D(padding), dilation: dilation)
    }

    /// Floats of `Workspace` that `conv2d(…into:workspace:)` needs for these shapes and per-side padding.
    public static func conv2dWorkspaceCount(input: [Int], weight: [Int], stride: Size2D = 1, padding: Padding2D,
                                            dilation: Size2D = 1) throws -> Int {
        let out = try conv2dOutputShape(input: input, weight: weight, stride: stride, padding: padding, dilation: dilation)
        let plane = out[2] * out[3]
        let depth = weight[1] * weight[2] * weight[3]
        let group = conv2dImagesPerProduct(batch: input[0], plane: plane)
        if group > 1 { return (depth + weight[0]) * group * plane }
        return isPointwise(weight: weight, stride: stride, padding: padding) ? 0 : depth * plane
    }

    /// How many images share one gemm: maps of fewer than 128 positions (ResNet's 7x7 stage) are unfolded
    /// side by side up to about 1024 columns, because OpenBLAS is much slower on a 49-column product;
    /// from 14x14 up, one image per product measured faster (less scratch memory to stream).
    static func conv2dImagesPerProduct(batch: Int, plane: Int) -> Int {
        plane >= 128 ? 1 : max(1, min(batch, 1024 / max(1, plane)))
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
    /// A 1x1 kernel with stride 1 and no padding multiplies `W[Cout, Cin]` by the input directly; other
    /// kernels unfold images with `im2col` and multiply `W[Cout, Cin·kh·kw]` by the columns. Feature maps
    /// under 128 positions are unfolded several images side by side so one wider gemm serves them all.
    /// Bias and activation are applied in one pass over the product. `packedWeight`, when given, is `weight`
    /// as a `[Cout, Cin·kh·kw]` left operand packed once (`PackedMatrix`), which saves packing it per call.
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                              padding: Size2D = 0, dilation: Size2D = 1, activation: Activation = .none,
                              packedWeight: PackedMatrix? = nil, into out: inout Tensor, workspace: Workspace) throws {
        try conv2d(input, weight: weight, bias: bias, stride: stride, padding: Padding2D(padding), dilation: dilation,
                   activation: activation, packedWeight: packedWeight, into: &out, workspace: workspace)
    }

    /// 2-D convolution into `out` with padding that may differ on each side, e.g. TensorFlow's "SAME"
    /// (`Padding2D.same`), as `F.conv2d(F.pad(input, [left, right, top, bottom]), …)`; otherwise as
    /// `conv2d(…padding: Size2D…)`.
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                              padding: Padding2D, dilation: Size2D = 1, activation: Activation = .none,
                              packedWeight: PackedMatrix? = nil, into out: inout Tensor, workspace: Workspace) throws {
        let op = "conv2d"
        try requireF32(input, op)
        try requireF32(weight, op)
        let shape = try conv2dOutputShape(input: input.shape, weight: weight.shape, stride: stride,
                                          padding: padding, dilation: dilation)
        try requireVector(bias, length: weight.shape[0], name: "bias", op)
        if let packedWeight, packedWeight.side != .left || packedWeight.rows != weight.shape[0]
            || packedWeight.columns != weight.count / max(1, weight.shape[0]) {
            throw TensorError.invalidArgument(operation: op,
                reason: "packed weight (\(packedWeight.rows)x\(packedWeight.columns)) is not the weight \(weight.shape) as a left operand")
        }
        out.prepareOutput(shape: shape)
        let geometry = ConvGeometry(batch: input.shape[0], inChannels: input.shape[1], height: input.shape[2],
                                    width: input.shape[3], outChannels: shape[1], outHeight: shape[2],
                                    outWidth: shape[3], kernel: Size2D(weight.shape[2], weight.shape[3]),
                                    stride: stride, padding: padding.leading, dilation: dilation)
        let scratch = workspace.floats(try conv2dWorkspaceCount(input: input.shape, weight: weight.shape, stride: stride,
                                                                padding: padding, dilation: dilation))
        input.withUnsafeFloats { px in
            weight.withUnsafeFloats { pw in
                withOptionalFloats(bias) { pb in
                    out.withUnsafeMutableFloats { po in
                        guard let x = px.baseAddress, let w = pw.baseAddress, let y = po.baseAddress else { return }
                        conv2dRaw(x, weight: w, packedWeight: packedWeight, bias: pb, geometry, activation: activation,
                                  out: y, scratch: scratch)
                    }
                }
            }
        }
    }

    /// The sizes of one convolution call.
    struct ConvGeometry {
        let batch, inChannels, height, width, outChannels, outHeight, outWidth: Int
        let kernel, stride, padding, dilation: Size2D
        var plane: Int { outHeight * outWidth }
        var depth: Int { inChannels * kernel.height * kernel.width }
        var imageSize: Int { inChannels * height * width }
    }

    /// The convolution loop; `scratch` holds `conv2dWorkspaceCount` floats.
    static func conv2dRaw(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, packedWeight: PackedMatrix?,
                          bias: UnsafePointer<Float>?,
                          _ g: ConvGeometry, activation: Activation, out y: UnsafeMutablePointer<Float>,
                          scratch: UnsafeMutablePointer<Float>) {
        let (plane, depth, outChannels) = (g.plane, g.depth, g.outChannels)
        let pointwise = g.kernel == 1 && g.stride == 1 && g.padding == 0 && g.outHeight == g.height && g.outWidth == g.width
        let group = conv2dImagesPerProduct(batch: g.batch, plane: plane)
        func unfold(_ n: Int, rowStride: Int, into columns: UnsafeMutablePointer<Float>) {
            im2col(x + n * g.imageSize, channels: g.inChannels, height: g.height, width: g.width, kernel: g.kernel,
                   stride: g.stride, padding: g.padding, dilation: g.dilation, outHeight: g.outHeight,
                   outWidth: g.outWidth, rowStride: rowStride, into: columns)
        }
        for first in Swift.stride(from: 0, to: g.batch, by: group) {
            if group == 1 {
                // One image: multiply straight into the output, then add bias and activate in place.
                let result = y + first * outChannels * plane
                var source = x + first * g.imageSize
                if !pointwise {
                    unfold(first, rowStride: plane, into: scratch)
                    source = UnsafePointer(scratch)
                }
                gemm(transposeA: false, transposeB: false, m: outChannels, n: plane, k: depth,
                     a: w, lda: depth, packedA: packedWeight, b: source, ldb: plane, packedB: nil, c: result, ldc: plane)
                for c in 0..<outChannels {
                    let row = result + c * plane
                    biasActivation(row, row, count: plane, bias: bias?[c] ?? 0, activation)
                }
                continue
            }
            // Several images side by side: columns [depth, images·plane] and product [Cout, images·plane],
            // scattered back to NCHW with bias and activation.
            let images = min(group, g.batch - first)
            let span = images * plane
            let columns = scratch
            let product = scratch + depth * group * plane
            for i in 0..<images { unfold(first + i, rowStride: span, into: columns + i * plane) }
            gemm(transposeA: false, transposeB: false, m: outChannels, n: span, k: depth,
                 a: w, lda: depth, packedA: packedWeight, b: columns, ldb: span, packedB: nil, c: product, ldc: span)
            for i in 0..<images {
                for c in 0..<outChannels {
                    biasActivation(product + c * span + i * plane, y + ((first + i) * outChannels + c) * plane,
                                   count: plane, bias: bias?[c] ?? 0, activation)
                }
            }
        }
    }

    /// `dst = activation(src + bias)` over `count` floats (`src` and `dst` may be the same).
    @inline(__always)
    static func biasActivation(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
                               bias: Float, _ activation: Activation) {
        switch activation {
        case .relu:
            for i in 0..<count { let s = src[i] + bias; dst[i] = s < 0 ? 0 : s }
        default:
            for i in 0..<count { dst[i] = src[i] + bias }
            applyRaw(activation, dst, count: count)
        }
    }

    static func isPointwise(weight: [Int], stride: Size2D, padding: Padding2D) -> Bool {
        weight[2] == 1 && weight[3] == 1 && stride == 1 && padding.isZero
    }
}
