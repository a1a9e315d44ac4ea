extension Kernels {
    /// A convolution's weight and bias with an inference-mode batch norm that follows it folded in.
    ///
    /// With `s = gamma / sqrt(variance + eps)` per output channel: `weight' = weight · s` and
    /// `bias' = (bias - mean) · s + beta` (`bias` nil counts as 0), so
    /// `conv(x, weight', bias') == batchNorm(conv(x, weight, bias))`.
    ///
    /// - Parameters:
    ///   - weight: `[Cout, ...]` (any trailing shape, e.g. `[Cout, Cin, kh, kw]` or a linear `[Cout, in]`).
    ///   - bias: the convolution's bias `[Cout]`, or nil.
    ///   - gamma: the batch norm's `weight`, `[Cout]`.
    ///   - beta: the batch norm's `bias`, `[Cout]`.
    ///   - mean: the batch norm's `running_mean`, `[Cout]`.
    ///   - variance: the batch norm's `running_var`, `[Cout]`.
    ///   - eps: the batch norm's `eps`.
    public static func foldBatchNorm(weight: Tensor, bias: Tensor?, gamma: Tensor, beta: Tensor, mean: Tensor,
                                     variance: Tensor, eps: Float = 1e-5) throws -> (weight: Tensor, bias: Tensor) {
        let op = "foldBatchNorm"
        try requireF32(weight, op)
        guard weight.rank >= 1 else { throw TensorError.invalidArgument(operation: op, reason: "weight is a scalar") }
        let channels = weight.shape[0]
        try requireVector(bias, length: channels, name: "bias", op)
        try requireVector(gamma, length: channels, name: "gamma", op)
        try requireVector(beta, length: channels, name: "beta", op)
        try requireVector(mean, length: channels, name: "running mean", op)
        try requireVector(variance, length: channels, name: "running variance", op)
        let g = gamma.floats, b = beta.floats, m = mean.floats, v = variance.floats
        let oldBias = bias?.floats ?? [Float](repeating: 0, count: channels)
        var folded = weight
        var newBias = [Float](repeating: 0, count: channels)
        let perChannel = weight.count / max(1, channels)
        folded.withUnsafeMutableFloats { w in
            for c in 0..<channels {
                let scale = g[c] / (v[c] + eps).squareRoot()
                for i in 0..<perChannel { w[c * perChannel + i] *= scale }
                newBias[c] = (oldBias[c] - m[c]) * scale + b[c]
            }
        }
        return (folded, try Tensor(shape: [channels], floats: newBias))
    }
}
