extension Kernels {
    /// The pooled size of one dimension, as PyTorch: `(size + 2·padding - kernel) / stride + 1`, rounded
    /// down, or up with `ceilMode` (where a last window starting in the right padding is dropped).
    static func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
        let span = size + 2 * padding - kernel
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode, (out - 1) * stride >= size + padding { out -= 1 }
        return out
    }

    /// Validates a pooling geometry and returns the output shape `[N, C, Hout, Wout]`.
    static func poolShape(_ x: Tensor, kernel: Size2D, stride: Size2D, padding: Size2D, ceilMode: Bool,
                          _ op: String) throws -> [Int] {
        try requireF32(x, rank: 4, op)
        guard kernel.height >= 1, kernel.width >= 1, stride.height >= 1, stride.width >= 1 else {
            throw TensorError.invalidArgument(operation: op, reason: "kernel \(kernel) and stride \(stride) must be >= 1")
        }
        guard padding.height >= 0, padding.width >= 0,
              padding.height <= kernel.height / 2, padding.width <= kernel.width / 2 else {
            throw TensorError.invalidArgument(operation: op,
                reason: "padding \(padding) must be between 0 and half the kernel \(kernel)")
        }
        let (h, w) = (x.shape[2], x.shape[3])
        guard h + 2 * padding.height >= kernel.height, w + 2 * padding.width >= kernel.width else {
            throw TensorError.invalidArgument(operation: op, reason: "kernel \(kernel) is larger than the padded input \(x.shape)")
        }
        return [x.shape[0], x.shape[1],
                pooledSize(h, kernel: kernel.height, stride: stride.height, padding: padding.height, ceilMode: ceilMode),
                pooledSize(w, kernel: kernel.width, stride: stride.width, padding: padding.width, ceilMode: ceilMode)]
    }

    /// Runs `body(inputPlane, outputPlane)` over every `(n, c)` plane of NCHW `x` and `out`.
    static func forEachPlane(_ x: Tensor, _ out: inout Tensor,
                             _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let planes = x.shape[0] * x.shape[1]
        let inPlane = x.count / max(1, planes)
        let outPlane = out.count / max(1, planes)
        x.withUnsafeFloats { px in
            out.withUnsafeMutableFloats { po in
                guard let src = px.baseAddress, let dst = po.baseAddress else { return }
                for p in 0..<planes { body(src + p * inPlane, dst + p * outPlane) }
            }
        }
    }

    // MARK: Max pooling

    /// 2-D max pooling of NCHW `x`, as PyTorch's `max_pool2d` (padding acts as -inf; `stride` defaults to `kernel`).
    public static func maxPool2d(_ x: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                                 ceilMode: Bool = false) throws -> Tensor {
        var out = Tensor(zeros: [])
        try maxPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, into: &out)
        return out
    }

    /// 2-D max pooling into `out` (resized as needed).
    public static func maxPool2d(_ x: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                                 ceilMode: Bool = false, into out: inout Tensor) throws {
        let stride = stride ?? kernel
        let shape = try poolShape(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, "maxPool2d")
        out.prepareOutput(shape: shape)
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], shape[2], shape[3])
        // Separable: the max over the window's rows, column by column (vectorised), then over its columns.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(w, 1)) { buffer in
            guard let columnMax = buffer.baseAddress else { return }
            forEachPlane(x, &out) { src, dst in
                for oy in 0..<oh {
                    let y0 = oy * stride.height - padding.height
                    let yStart = max(y0, 0), yEnd = min(y0 + kernel.height, h)
                    columnMax.update(repeating: -.infinity, count: w)
                    for yy in yStart..<max(yStart, yEnd) {
                        let row = src + yy * w
                        for xx in 0..<w {
                            let v = row[xx], m = columnMax[xx]
                            columnMax[xx] = (v > m || v != v) ? v : m
                        }
                    }
                    for ox in 0..<ow {
                        let x0 = ox * stride.width - padding.width
                        let xStart = max(x0, 0), xEnd = min(x0 + kernel.width, w)
                        var best = -Float.infinity
                        for xx in xStart..<max(xStart, xEnd) {
                            let v = columnMax[xx]
                            if v > best || v.isNaN { best = v }
                        }
                        dst[oy * ow + ox] = best
                    }
                }
            }
        }
    }

    // MARK: Average pooling

    /// 2-D average pooling of NCHW `x`, as PyTorch's `avg_pool2d` (`stride` defaults to `kernel`; with
    /// `countIncludePad` the divisor counts padded positions, clipped at `size + padding`).
    public static func avgPool2d(_ x: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                                 ceilMode: Bool = false, countIncludePad: Bool = true) throws -> Tensor {
        var out = Tensor(zeros: [])
        try avgPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                      countIncludePad: countIncludePad, into: &out)
        return out
    }

    /// 2-D average pooling into `out` (resized as needed).
    public static func avgPool2d(_ x: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                                 ceilMode: Bool = false, countIncludePad: Bool = true, into out: inout Tensor) throws {
        let stride = stride ?? kernel
        let shape = try poolShape(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, "avgPool2d")
        out.prepareOutput(shape: shape)
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], shape[2], shape[3])
        forEachPlane(x, &out) { src, dst in
            for oy in 0..<oh {
                let y0 = oy * stride.height - padding.height
                let yPadEnd = min(y0 + kernel.height, h + padding.height)
                let yStart = max(y0, 0), yEnd = min(yPadEnd, h)
                for ox in 0..<ow {
                    let x0 = ox * stride.width - padding.width
                    let xPadEnd = min(x0 + kernel.width, w + padding.width)
                    let xStart = max(x0, 0), xEnd = min(xPadEnd, w)
                    guard yStart < yEnd, xStart < xEnd else {
                        dst[oy * ow + ox] = 0
                        continue
                    }
                    var sum: Float = 0
                    for yy in yStart..<yEnd {
                        let row = src + yy * w
                        for xx in xStart..<xEnd { sum += row[xx] }
                    }
                    let divisor = countIncludePad ? (yPadEnd - y0) * (xPadEnd - x0) : (yEnd - yStart) * (xEnd - xStart)
                    dst[oy * ow + ox] = sum / Float(divisor)
                }
            }
        }
    }

    // MARK: Adaptive and global average pooling

    /// Adaptive average pooling of NCHW `x` to `outputSize`, as PyTorch's `adaptive_avg_pool2d`: output
    /// row `i` averages input rows `⌊i·H/Hout⌋ ..< ⌈(i+1)·H/Hout⌉`, likewise for columns.
    public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: Size2D) throws -> Tensor {
        var out = Tensor(zeros: [])
        try adaptiveAvgPool2d(x, outputSize: outputSize, into: &out)
        return out
    }

    /// Adaptive average pooling into `out` (resized as needed).
    public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: Size2D, into out: inout Tensor) throws {
        let op = "adaptiveAvgPool2d"
        try requireF32(x, rank: 4, op)
        guard outputSize.height >= 1, outputSize.width >= 1 else {
            throw TensorError.invalidArgument(operation: op, reason: "output size \(outputSize) must be >= 1")
        }
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], outputSize.height, outputSize.width)
        guard h >= 1, w >= 1 else { throw TensorError.invalidArgument(operation: op, reason: "empty input \(x.shape)") }
        out.prepareOutput(shape: [x.shape[0], x.shape[1], oh, ow])
        forEachPlane(x, &out) { src, dst in
            for oy in 0..<oh {
                let yStart = oy * h / oh, yEnd = ((oy + 1) * h + oh - 1) / oh
                for ox in 0..<ow {
                    let xStart = ox * w / ow, xEnd = ((ox + 1) * w + ow - 1) / ow
                    var sum: Float = 0
                    for yy in yStart..<yEnd {
                        let row = src + yy * w
                        for xx in xStart..<xEnd { sum += row[xx] }
                    }
                    dst[oy * ow + ox] = sum / Float((yEnd - yStart) * (xEnd - xStart))
                }
            }
        }
    }

    /// The mean of each channel plane: `[N, C, H, W]` → `[N, C]`.
    public static func globalAvgPool2d(_ x: Tensor) throws -> Tensor {
        var out = Tensor(zeros: [])
        try globalAvgPool2d(x, into: &out)
        return out
    }

    /// The mean of each channel plane into `out` (`[N, C]`, resized as needed).
    public static func globalAvgPool2d(_ x: Tensor, into out: inout Tensor) throws {
        let op = "globalAvgPool2d"
        try requireF32(x, rank: 4, op)
        let plane = x.shape[2] * x.shape[3]
        guard plane > 0 else { throw TensorError.invalidArgument(operation: op, reason: "empty input \(x.shape)") }
        out.prepareOutput(shape: [x.shape[0], x.shape[1]])
        let scale = 1 / Float(plane)
        forEachPlane(x, &out) { src, dst in
            var sum: Float = 0
            for i in 0..<plane { sum += src[i] }
            dst[0] = sum * scale
        }
    }
}
