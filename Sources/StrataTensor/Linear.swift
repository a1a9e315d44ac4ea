extension Kernels {
    /// `y = x · Wᵀ + b` over the last dimension, with PyTorch's `nn.Linear` weight layout.
    ///
    /// - Parameters:
    ///   - x: `[..., in]`.
    ///   - weight: `[out, in]`.
    ///   - bias: `[out]`, or nil.
    ///   - activation: applied to the result.
    /// - Returns: `[..., out]`.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                              activation: Activation = .none) throws -> Tensor {
        var out = Tensor(zeros: [])
        try linear(x, weight: weight, bias: bias, activation: activation, into: &out)
        return out
    }

    /// `out = activation(x · Wᵀ + b)`, shapes as in `linear(_:weight:bias:activation:)`; `out` is resized as needed.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, activation: Activation = .none,
                              into out: inout Tensor) throws {
        let op = "linear"
        try requireF32(x, op)
        try requireF32(weight, rank: 2, op)
        guard x.rank >= 1, x.shape[x.rank - 1] == weight.shape[1] else {
            throw TensorError.shapeMismatch(operation: op, lhs: x.shape, rhs: weight.shape)
        }
        let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        try requireVector(bias, length: outFeatures, name: "bias", op)
        let rows = x.shape.dropLast().reduce(1, *)
        out.prepareOutput(shape: Array(x.shape.dropLast()) + [outFeatures])
        x.withUnsafeFloats { px in
            weight.withUnsafeFloats { pw in
                withOptionalFloats(bias) { pb in
                    out.withUnsafeMutableFloats { po in
                        guard let px = px.baseAddress, let pw = pw.baseAddress, let po = po.baseAddress else { return }
                        linearRaw(px, rows: rows, inFeatures: inFeatures, weight: pw, bias: pb,
                                  outFeatures: outFeatures, activation: activation, out: po)
                    }
                }
            }
        }
    }

    /// `out[r, :] = activation(x[r, :] · Wᵀ + b)` for `rows` contiguous rows; `out` is `rows × outFeatures`.
    ///
    /// `x` rows are `inFeatures` floats long (or `xRowStride` apart, e.g. to read the first token of each
    /// sequence); `weight` is `[outFeatures, inFeatures]`, and `packedWeight`, when given, is its transpose packed
    /// once as a right operand (`PackedMatrix`).
    public static func linearRaw(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, xRowStride: Int? = nil,
                                 weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                                 activation: Activation = .none, packedWeight: PackedMatrix? = nil,
                                 out: UnsafeMutablePointer<Float>) {
        if rows == 0 || outFeatures == 0 { return }
        if let bias {
            for r in 0..<rows {
                (out + r * outFeatures).update(from: bias, count: outFeatures)
            }
        }
        gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
             a: x, lda: max(1, xRowStride ?? inFeatures), packedA: nil, b: weight, ldb: max(1, inFeatures),
             packedB: packedWeight, beta: bias == nil ? 0 : 1, c: out, ldc: outFeatures)
        applyRaw(activation, out, count: rows * outFeatures)
    }
}
