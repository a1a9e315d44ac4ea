import Foundation
import StrataTensor

/// One transformer encoder layer (BERT's post-norm or ViT's pre-norm), with Q, K and V stacked into a
/// single `[3H, H]` projection so one gemm over every token of the batch computes all three.
struct TransformerLayer {
    /// Where the layer norms sit.
    enum Norm { case post, pre }

    let hidden: Int
    let intermediate: Int
    let heads: Int
    let eps: Float
    let norm: Norm
    /// `[3H, H]` and `[3H]`: query, key, value rows stacked.
    let qkv: DenseLayer
    let output: DenseLayer
    /// BERT: after attention / after the MLP. ViT: before attention / before the MLP.
    let norm1Weight: [Float], norm1Bias: [Float]
    let norm2Weight: [Float], norm2Bias: [Float]
    let up: DenseLayer
    let down: DenseLayer

    /// Names of one layer's tensors relative to its prefix.
    struct Names {
        var query, key, value, output, norm1, norm2, up, down: String

        static let bert = Names(query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
                                output: "attention.output.dense", norm1: "attention.output.LayerNorm",
                                norm2: "output.LayerNorm", up: "intermediate.dense", down: "output.dense")
        static let vit = Names(query: "attention.attention.query", key: "attention.attention.key",
                               value: "attention.attention.value", output: "attention.output.dense",
                               norm1: "layernorm_before", norm2: "layernorm_after", up: "intermediate.dense",
                               down: "output.dense")
    }

    init(_ checkpoint: Checkpoint, prefix: String, names: Names, hidden: Int, intermediate: Int, heads: Int,
         eps: Float, norm: Norm, qkvBias: Bool = true) throws {
        self.hidden = hidden
        self.intermediate = intermediate
        self.heads = heads
        self.eps = eps
        self.norm = norm
        let h = hidden
        func bias(_ name: String, _ count: Int, required: Bool = true) throws -> [Float] {
            if !required && !checkpoint.contains(prefix + name + ".bias") { return [Float](repeating: 0, count: count) }
            return try checkpoint.floats(prefix + name + ".bias", [count])
        }
        var weight: [Float] = []
        var biasValues: [Float] = []
        for name in [names.query, names.key, names.value] {
            weight += try checkpoint.floats(prefix + name + ".weight", [h, h])
            biasValues += try bias(name, h, required: qkvBias)
        }
        qkv = DenseLayer(weight: weight, bias: biasValues, inFeatures: h, outFeatures: 3 * h)
        output = DenseLayer(weight: try checkpoint.floats(prefix + names.output + ".weight", [h, h]),
                            bias: try bias(names.output, h), inFeatures: h, outFeatures: h)
        norm1Weight = try checkpoint.floats(prefix + names.norm1 + ".weight", [h])
        norm1Bias = try checkpoint.floats(prefix + names.norm1 + ".bias", [h])
        norm2Weight = try checkpoint.floats(prefix + names.norm2 + ".weight", [h])
        norm2Bias = try checkpoint.floats(prefix + names.norm2 + ".bias", [h])
        up = DenseLayer(weight: try checkpoint.floats(prefix + names.up + ".weight", [intermediate, h]),
                        bias: try bias(names.up, intermediate), inFeatures: h, outFeatures: intermediate)
        down = DenseLayer(weight: try checkpoint.floats(prefix + names.down + ".weight", [h, intermediate]),
                          bias: try bias(names.down, h), inFeatures: intermediate, outFeatures: h)
    }

    /// Runs the layer in place on `x` (`batch · length` rows of `hidden`).
    ///
    /// `keyLengths[b]` is one past the last key sequence `b` attends to and `keyBias` holds
    /// `batch · length` additive mask values (0 or -inf), or is nil when no key is masked.
    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, length: Int, keyBias: UnsafePointer<Float>?,
                 keyLengths: [Int], scratch: TransformerScratch) {
        let rows = batch * length
        let h = hidden
        let qkv = scratch.qkv.floats(rows * 3 * h)
        let context = scratch.context.floats(rows * h)
        let normed = scratch.normed.floats(rows * h)
        let hiddenUnits = scratch.up.floats(rows * intermediate)
        // Attention block.
        let attentionInput = blockInput(x, rows: rows, norm1Weight, norm1Bias, scratch: normed)
        self.qkv.apply(attentionInput, rows: rows, out: qkv)
        Kernels.stridedAttention(q: qkv, k: qkv + h, v: qkv + 2 * h, rowStride: (3 * h, 3 * h, 3 * h),
                                 batchStride: (length * 3 * h, length * 3 * h, length * 3 * h), batch: batch, heads: heads,
                                 headDim: h / heads, queryLength: length, keyLength: length, keyBias: keyBias,
                                 keyLengths: keyLengths, scale: 1 / Float(h / heads).squareRoot(), out: context,
                                 workspace: scratch.scores)
        output.addApplied(context, rows: rows, to: x)
        if norm == .post { layerNorm(x, rows: rows, norm1Weight, norm1Bias, out: x) }
        // MLP block.
        let mlpInput = blockInput(x, rows: rows, norm2Weight, norm2Bias, scratch: normed)
        up.apply(mlpInput, rows: rows, activation: .gelu, out: hiddenUnits)
        down.addApplied(hiddenUnits, rows: rows, to: x)
        if norm == .post { layerNorm(x, rows: rows, norm2Weight, norm2Bias, out: x) }
    }

    /// A block's input: `x` layer-normed into `scratch` before the block (pre-norm, ViT), or `x` itself
    /// (post-norm, BERT, which normalizes after the residual add instead).
    private func blockInput(_ x: UnsafeMutablePointer<Float>, rows: Int, _ weight: [Float], _ bias: [Float],
                            scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard norm == .pre else { return UnsafePointer(x) }
        layerNorm(x, rows: rows, weight, bias, out: scratch)
        return UnsafePointer(scratch)
    }

    private func layerNorm(_ x: UnsafePointer<Float>, rows: Int, _ weight: [Float], _ bias: [Float],
                           out: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.layerNormRows(x, rows: rows, columns: hidden, weight: w.baseAddress, bias: b.baseAddress,
                                      eps: eps, out: out)
            }
        }
    }
}

/// A linear layer `x · Wᵀ + b` with `W` as `[out, in]`, its weight also packed once for the gemm kernels.
struct DenseLayer {
    let weight: [Float], bias: [Float]
    let inFeatures: Int, outFeatures: Int
    /// `Wᵀ` as the right operand of `x · Wᵀ` (nil when OpenBLAS runs the products).
    let packed: PackedMatrix?

    init(weight: [Float], bias: [Float], inFeatures: Int, outFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        packed = weight.withUnsafeBufferPointer { w in
            w.baseAddress.flatMap {
                PackedMatrix(side: .right, transposed: true, rows: inFeatures, columns: outFeatures, data: $0,
                             leadingDimension: inFeatures)
            }
        }
    }

    /// `out = activation(x · Wᵀ + b)` over `rows` rows of `x` (`xRowStride` floats apart when given), as
    /// `Kernels.linearRaw` with the packed weight.
    func apply(_ x: UnsafePointer<Float>, rows: Int, xRowStride: Int? = nil, activation: Activation = .none,
               out: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress else { return }
                Kernels.linearRaw(x, rows: rows, inFeatures: inFeatures, xRowStride: xRowStride, weight: w,
                                  bias: b.baseAddress, outFeatures: outFeatures, activation: activation,
                                  packedWeight: packed, out: out)
            }
        }
    }

    /// `out += x · Wᵀ + b` over `rows` rows: a residual connection.
    func addApplied(_ x: UnsafePointer<Float>, rows: Int, to out: UnsafeMutablePointer<Float>) {
        guard rows > 0, outFeatures > 0 else { return }
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress, let b = b.baseAddress else { return }
                Kernels.gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                             a: x, lda: inFeatures, packedA: nil, b: w, ldb: inFeatures, packedB: packed,
                             beta: 1, c: out, ldc: outFeatures)
                for r in 0..<rows {
                    let row = out + r * outFeatures
                    for j in 0..<outFeatures { row[j] += b[j] }
                }
            }
        }
    }
}

/// Scratch memory of a transformer forward pass, reused from call to call.
final class TransformerScratch {
    let qkv = Workspace()
    let context = Workspace()
    let normed = Workspace()
    let up = Workspace()
    let scores = Workspace()
    let hidden = Workspace()
    let keyBias = Workspace()
    let patches = Workspace()
}
