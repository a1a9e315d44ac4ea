import CStrataKernels
import Dispatch

extension Kernels {
    /// Depthwise 2-D convolution of NCHW `input` (`[N, C, H, W]`) by `weight` (`[C, 1, kh, kw]`, one filter
    /// per channel) plus `bias` (`[C]`), then `activation`: PyTorch's `conv2d(…, groups=C)` on the input
    /// padded by `padding` (per side, e.g. `Padding2D.same` for TensorFlow's "SAME").
    public static func depthwiseConv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                                       padding: Padding2D = Padding2D(0), activation: Activation = .none) throws -> Tensor {
        var out = Tensor(zeros: [])
        try depthwiseConv2d(input, weight: weight, bias: bias, stride: stride, padding: padding, activation: activation,
                            into: &out)
        return out
    }

    /// Depthwise convolution into `out` (resized as needed).
    ///
    /// Each output row starts at the bias and gathers one kernel tap at a time over the whole row (a
    /// contiguous, vectorisable pass for stride 1), so the work is `N·C·Hout·Wout·kh·kw` multiply-adds with
    /// no unfolding and no scratch memory; taps that fall in the padding are skipped, not multiplied by zero.
    public static func depthwiseConv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                                       padding: Padding2D = Padding2D(0), activation: Activation = .none,
                                       into out: inout Tensor) throws {
        try depthwiseConv2d(input, weight: weight, bias: bias, stride: stride, padding: padding, activation: activation,
                            vector: vectorDepthwise, into: &out)
    }

    /// Depthwise convolution into `out`, on the AVX kernel when `vector` (and the column stride is 1 or 2).
    static func depthwiseConv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Size2D, padding: Padding2D,
                                activation: Activation, vector: Bool, into out: inout Tensor) throws {
        let op = "depthwiseConv2d"
        try requireF32(input, rank: 4, op)
        try requireF32(weight, rank: 4, op)
        let channels = input.shape[1]
        guard weight.shape[0] == channels, weight.shape[1] == 1 else {
            throw TensorError.invalidArgument(operation: op,
                reason: "weight must be [C, 1, kh, kw] with C = \(channels) input channels, got \(weight.shape)")
        }
        try requireVector(bias, length: channels, name: "bias", op)
        let kernel = Size2D(weight.shape[2], weight.shape[3])
        let plane = try paddedOutputSize(input: Size2D(input.shape[2], input.shape[3]), kernel: kernel, stride: stride,
                                         padding: padding, dilation: 1, op)
        out.prepareOutput(shape: [input.shape[0], channels, plane.height, plane.width])
        let geometry = DepthwiseGeometry(height: input.shape[2], width: input.shape[3], outHeight: plane.height,
                                         outWidth: plane.width, kernel: kernel, stride: stride, padding: padding)
        input.withUnsafeFloats { px in
            weight.withUnsafeFloats { pw in
                withOptionalFloats(bias) { pb in
                    out.withUnsafeMutableFloats { po in
                        guard let x = px.baseAddress, let w = pw.baseAddress, let y = po.baseAddress else { return }
                        let taps = kernel.height * kernel.width
                        let (inPlane, outPlane) = (geometry.height * geometry.width, geometry.outHeight * geometry.outWidth)
                        let vector = vector && (stride.width == 1 || stride.width == 2)
                        let planes = input.shape[0] * channels
                        // Planes are independent: they are spread over the gemm threads (one in a build's
                        // single-threaded encoder workers), each with its own scratch.
                        let workers = max(1, min(Kernels.gemmThreads, planes))
                        let scratchCount = vector ? geometry.vectorScratchCount : 0
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, workers * scratchCount))
                        defer { scratch.deallocate() }
                        DispatchQueue.concurrentPerform(iterations: workers) { worker in
                            for p in Swift.stride(from: worker, to: planes, by: workers) {
                                let c = p % channels
                                if vector {
                                    geometry.vectorPlane(x + p * inPlane, weight: w + c * taps, bias: pb?[c] ?? 0,
                                                         out: y + p * outPlane, scratch: scratch + worker * scratchCount)
                                    applyRaw(activation, y + p * outPlane, count: outPlane)
                                } else {
                                    depthwisePlane(x + p * inPlane, weight: w + c * taps, bias: pb?[c] ?? 0, geometry,
                                                   activation: activation, out: y + p * outPlane)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether depthwise convolutions with a column stride of 1 or 2 run on the AVX kernel
    /// (`strata_depthwise_plane_avx`, eight output columns per register): when the CPU has AVX. The
    /// portable kernel below gives the same values.
    static let vectorDepthwise = strata_avx_available() != 0

    /// The sizes of one depthwise convolution call.
    struct DepthwiseGeometry {
        let height, width, outHeight, outWidth: Int
        let kernel, stride: Size2D
        let padding: Padding2D

        /// Floats of scratch `vectorPlane` needs.
        var vectorScratchCount: Int {
            strata_depthwise_scratch_count(kernel.height, kernel.width, stride.height, stride.width, outHeight, outWidth)
        }

        /// One channel plane on the AVX kernel, before the activation.
        func vectorPlane(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: Float,
                         out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
            strata_depthwise_plane_avx(x, height, width, weight, kernel.height, kernel.width, stride.height, stride.width,
                                       padding.top, padding.left, bias, out, outHeight, outWidth, scratch)
        }
    }

    /// One channel plane: `out[oy, ox] = activation(bias + Σ w[i, j] · in[oy·sh - top + i, ox·sw - left + j])`.
    static func depthwisePlane(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias: Float,
                               _ g: DepthwiseGeometry, activation: Activation, out y: UnsafeMutablePointer<Float>) {
        let (sh, sw) = (g.stride.height, g.stride.width)
        for oy in 0..<g.outHeight {
            let row = y + oy * g.outWidth
            row.update(repeating: bias, count: g.outWidth)
            for i in 0..<g.kernel.height {
                let iy = oy * sh - g.padding.top + i
                if iy < 0 || iy >= g.height { continue }
                let source = x + iy * g.width
                for j in 0..<g.kernel.width {
                    let tap = w[i * g.kernel.width + j]
                    // The output columns this tap reaches inside the input: 0 <= ox·sw + offset < width.
                    let offset = j - g.padding.left
                    let start = min(g.outWidth, offset >= 0 ? 0 : (-offset + sw - 1) / sw)
                    let end = max(start, min(g.outWidth, g.width - offset <= 0 ? 0 : (g.width - offset - 1) / sw + 1))
                    if sw == 1 {
                        let shifted = source + offset
                        for ox in start..<end { row[ox] += tap * shifted[ox] }
                    } else {
                        for ox in start..<end { row[ox] += tap * source[ox * sw + offset] }
                    }
                }
            }
            applyRaw(activation, row, count: g.outWidth)
        }
    }
}
