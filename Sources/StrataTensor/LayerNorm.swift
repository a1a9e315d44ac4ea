extension Kernels {
    /// Layer normalisation of `rows` rows of `columns` floats, as PyTorch's `nn.LayerNorm(columns)`:
    /// `(x - mean) / sqrt(var + eps) · weight + bias` with the biased variance.
    ///
    /// `x` and `out` may be the same memory. `weight` and `bias` (`columns` floats) may be nil. With
    /// `statistics`, each row's mean and `1/sqrt(var + eps)` are written there (`2 · rows` floats, for a backward pass).
    public static func layerNormRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                                     weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, eps: Float,
                                     out: UnsafeMutablePointer<Float>, statistics: UnsafeMutablePointer<Float>? = nil) {
        guard columns > 0 else { return }
        let n = Float(columns)
        for r in 0..<rows {
            let src = x + r * columns
            let dst = out + r * columns
            let mean = FastMath.sum(src, count: columns) / n
            let squares = FastMath.squaredDeviation(src, count: columns, mean: mean)
            let inv = 1 / (squares / n + eps).squareRoot()
            if let statistics {
                statistics[2 * r] = mean
                statistics[2 * r + 1] = inv
            }
            switch (weight, bias) {
            case let (w?, b?):
                for j in 0..<columns { dst[j] = (src[j] - mean) * inv * w[j] + b[j] }
            case let (w?, nil):
                for j in 0..<columns { dst[j] = (src[j] - mean) * inv * w[j] }
            case let (nil, b?):
                for j in 0..<columns { dst[j] = (src[j] - mean) * inv + b[j] }
            case (nil, nil):
                for j in 0..<columns { dst[j] = (src[j] - mean) * inv }
            }
        }
    }

    /// Layer normalisation over the last dimension (`weight`, `bias`: `[C]` or nil; PyTorch's default eps 1e-5).
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws -> Tensor {
        var out = Tensor(zeros: [])
        try layerNorm(x, weight: weight, bias: bias, eps: eps, into: &out)
        return out
    }

    /// Layer normalisation over the last dimension into `out` (resized as needed).
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                                 into out: inout Tensor) throws {
        let columns = try checkLayerNorm(x, weight: weight, bias: bias)
        out.prepareOutput(shape: x.shape)
        x.withUnsafeFloats { px in
            out.withUnsafeMutableFloats { po in
                runLayerNorm(px, columns: columns, weight: weight, bias: bias, eps: eps, out: po)
            }
        }
    }

    /// Layer normalisation over the last dimension, in place.
    public static func layerNormInPlace(_ x: inout Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws {
        let columns = try checkLayerNorm(x, weight: weight, bias: bias)
        x.withUnsafeMutableFloats { px in
            runLayerNorm(UnsafeBufferPointer(px), columns: columns, weight: weight, bias: bias, eps: eps, out: px)
        }
    }

    private static func checkLayerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?) throws -> Int {
        let op = "layerNorm"
        try requireF32(x, op)
        guard x.rank >= 1 else { throw TensorError.invalidArgument(operation: op, reason: "x is a scalar") }
        let columns = x.shape[x.rank - 1]
        try requireVector(weight, length: columns, name: "weight", op)
        try requireVector(bias, length: columns, name: "bias", op)
        return columns
    }

    private static func runLayerNorm(_ px: UnsafeBufferPointer<Float>, columns: Int, weight: Tensor?, bias: Tensor?,
                                     eps: Float, out po: UnsafeMutableBufferPointer<Float>) {
        guard let src = px.baseAddress, let dst = po.baseAddress, columns > 0 else { return }
        withOptionalFloats(weight) { pw in
            withOptionalFloats(bias) { pb in
                layerNormRows(src, rows: px.count / columns, columns: columns, weight: pw, bias: pb, eps: eps, out: dst)
            }
        }
    }
}
