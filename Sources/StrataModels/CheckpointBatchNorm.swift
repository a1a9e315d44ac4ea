import StrataTensor

/// A checkpoint's convolution with the batch norm after it folded in, as the convolutional encoders load
/// them (one place for the tensor names, the shapes and the checks).
enum CheckpointBatchNorm {
    /// `conv.weight` (`[out, in, kernel, kernel]`) and `conv.bias` when present, with `bn.weight`, `bn.bias`,
    /// `bn.running_mean` and `bn.running_var` folded in. A variance below `-eps` (which leaves a NaN) is
    /// refused naming the tensor; kernel failures name the layers and `architecture`.
    static func fold(_ checkpoint: Checkpoint, conv: String, bn: String, out: Int, in inChannels: Int, kernel: Int,
                     eps: Float, architecture: String) throws -> (weight: Tensor, bias: Tensor) {
        let weight = try checkpoint.float(conv + ".weight", [out, inChannels, kernel, kernel])
        let bias = checkpoint.contains(conv + ".bias") ? try checkpoint.float(conv + ".bias", [out]) : nil
        let folded: (weight: Tensor, bias: Tensor)
        do {
            folded = try Kernels.foldBatchNorm(
                weight: weight, bias: bias,
                gamma: checkpoint.float(bn + ".weight", [out]), beta: checkpoint.float(bn + ".bias", [out]),
                mean: checkpoint.float(bn + ".running_mean", [out]), variance: checkpoint.float(bn + ".running_var", [out]),
                eps: eps)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: architecture, reason: "folding \(bn) into \(conv): \(error)")
        }
        if let index = folded.weight.firstNonFinite {
            throw ModelError.nonFiniteWeight(file: checkpoint.path, tensor: bn + ".running_var (folded into \(conv).weight)",
                                             index: index, value: "a variance below -eps")
        }
        return folded
    }
}
