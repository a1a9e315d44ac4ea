import Foundation
import StrataTensor

/// A Vision Transformer from a Hugging Face `ViTModel` folder (`config.json` + `model.safetensors`,
/// names with or without the `vit.` prefix that classification checkpoints add), sizes from the config.
///
/// Levels: `last_hidden_state` (`[N, 1+P, H]`, after the final layer norm), `patch_tokens` (`[N, P, H]`),
/// `hidden_state_K` (0 = embeddings, K = after layer K, before the final norm), each optionally `:cls`
/// or `:mean` to `[N, H]`; `hidden_state_K_patches` (`[N, P, H]`); `cls`; `pooler_output` (`[N, H]`, when
/// the checkpoint has a pooler). Patch tokens take `:poolHxW`: the patch grid averaged to `[N, H·W, H]`.
public final class ViT: ImageEncoder {
    public let architecture = "vit"
    /// Hidden size.
    public let hidden: Int
    /// Number of encoder layers.
    public let layers: Int
    /// Input side length in pixels.
    public let imageSize: Int
    /// Patch side length in pixels.
    public let patchSize: Int
    let channels: Int
    let eps: Float
    let clsToken: [Float], positionEmbeddings: [Float]
    let patchProjection: DenseLayer
    let stack: [TransformerLayer]
    let finalNormWeight: [Float], finalNormBias: [Float]
    let pooler: DenseLayer?
    let scratch = TransformerScratch()

    /// Patches per image side.
    var grid: Int { imageSize / patchSize }
    /// Tokens per image, `[CLS]` included.
    var tokens: Int { grid * grid + 1 }

    /// Loads a `ViTModel` folder (`config.json` and `model.safetensors`, `pytorch_model.bin` or a sharded index of
    /// either); a weights file path loads with the `config.json` beside it.
    public init(folder url: URL) throws {
        let weightsURL = try Checkpoint.weightsURL(url)
        let config = try ModelConfig(folder: weightsURL.deletingLastPathComponent())
        let source = try Checkpoint.openFile(weightsURL)
        let prefix = try Checkpoint.detectPrefix(source, probe: "embeddings.patch_embeddings.projection.weight",
                                                 candidates: ["", "vit."])
        let checkpoint = Checkpoint(source: source, prefix: prefix)
        hidden = try config.int("hidden_size")
        layers = try config.int("num_hidden_layers")
        let heads = try config.int("num_attention_heads")
        let intermediate = try config.int("intermediate_size", 4 * hidden)
        imageSize = try config.int("image_size", 224)
        patchSize = try config.int("patch_size", 16)
        channels = try config.int("num_channels", 3)
        eps = Float(try config.positiveDouble("layer_norm_eps", 1e-12))
        try config.geluActivation()
        let qkvBias = config.bool("qkv_bias", true)
        guard hidden % heads == 0 else {
            throw ModelError.badConfig(file: config.path, key: "num_attention_heads",
                                       reason: "hidden_size \(hidden) does not split into \(heads) heads")
        }
        guard imageSize % patchSize == 0 else {
            throw ModelError.badConfig(file: config.path, key: "patch_size",
                                       reason: "image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        let tokens = (imageSize / patchSize) * (imageSize / patchSize) + 1
        clsToken = try checkpoint.floats("embeddings.cls_token", [1, 1, hidden])
        positionEmbeddings = try checkpoint.floats("embeddings.position_embeddings", [1, tokens, hidden])
        patchProjection = DenseLayer(
            weight: try checkpoint.floats("embeddings.patch_embeddings.projection.weight",
                                          [hidden, channels, patchSize, patchSize]),
            bias: try checkpoint.floats("embeddings.patch_embeddings.projection.bias", [hidden]),
            inFeatures: channels * patchSize * patchSize, outFeatures: hidden)
        let (width, layerEps) = (hidden, eps)
        stack = try (0..<layers).map { layer in
            try TransformerLayer(checkpoint, prefix: "encoder.layer.\(layer).", names: .vit, hidden: width,
                                 intermediate: intermediate, heads: heads, eps: layerEps, norm: .pre, qkvBias: qkvBias)
        }
        finalNormWeight = try checkpoint.floats("layernorm.weight", [hidden])
        finalNormBias = try checkpoint.floats("layernorm.bias", [hidden])
        pooler = try TokenLevels.loadPooler(checkpoint, hidden: hidden)
        let act = try config.string("pooler_act", "tanh")
        if pooler != nil, act != "tanh" {
            throw ModelError.badConfig(file: config.path, key: "pooler_act", reason: "'\(act)' is not supported (only tanh)")
        }
    }

    public func validate(levels: [PyramidLevel]) throws {
        for level in levels { _ = try resolve(level) }
    }

    private func resolve(_ level: PyramidLevel) throws -> (TokenSource, PyramidLevel.Reduction) {
        try TokenLevels.resolve(level, architecture: architecture, layers: layers, hasPooler: pooler != nil,
                                hasPatches: true)
    }

    public func encode(pixels: Tensor, levels: [PyramidLevel]) throws -> [Tensor] {
        let plan = try levels.map(resolve)
        guard pixels.dtype == .f32, pixels.shape.count == 4, pixels.shape[1] == channels,
              pixels.shape[2] == imageSize, pixels.shape[3] == imageSize else {
            throw ModelError.badInput(architecture: architecture,
                                      reason: "pixels must be f32 [N, \(channels), \(imageSize), \(imageSize)], got \(pixels.dtype) \(pixels.shape)")
        }
        let batch = pixels.shape[0]
        let length = tokens
        let rows = batch * length
        let x = scratch.hidden.floats(max(1, rows * hidden))
        pixels.withUnsafeFloats { buffer in
            guard let base = buffer.baseAddress else { return }
            embed(base, batch: batch, into: x)
        }
        var results = [Tensor?](repeating: nil, count: levels.count)
        func collect(_ source: TokenSource, from pointer: UnsafePointer<Float>) {
            for (index, (wanted, reduce)) in plan.enumerated() where wanted == source {
                if let pool = levels[index].pool {
                    results[index] = TokenLevels.gridPool(pointer, batch: batch, length: length, hidden: hidden,
                                                          grid: grid, pool: pool)
                } else {
                    results[index] = TokenLevels.extract(pointer, batch: batch, length: length, hidden: hidden,
                                                         first: source.isPatches ? 1 : 0, reduce: reduce, mask: nil)
                }
            }
        }
        collect(.hidden(0), from: x)
        collect(.hiddenPatches(0), from: x)
        let needsFinal = plan.contains { source, _ in
            switch source {
            case .hidden, .hiddenPatches: return false
            default: return true
            }
        }
        let deepest = needsFinal ? layers : plan.map { source, _ -> Int in
            switch source {
            case let .hidden(k), let .hiddenPatches(k): return k
            default: return layers
            }
        }.max() ?? 0
        let lengths = [Int](repeating: length, count: batch)
        for layer in 0..<deepest {
            stack[layer].forward(x, batch: batch, length: length, keyBias: nil, keyLengths: lengths, scratch: scratch)
            collect(.hidden(layer + 1), from: x)
            collect(.hiddenPatches(layer + 1), from: x)
        }
        if needsFinal {
            let normed = scratch.normed.floats(max(1, rows * hidden))
            finalNormWeight.withUnsafeBufferPointer { w in
                finalNormBias.withUnsafeBufferPointer { b in
                    Kernels.layerNormRows(x, rows: rows, columns: hidden, weight: w.baseAddress, bias: b.baseAddress,
                                          eps: eps, out: normed)
                }
            }
            collect(.last, from: normed)
            collect(.patches, from: normed)
            for (index, (source, _)) in plan.enumerated() where source == .pooler {
                if let pooler {
                    results[index] = TokenLevels.pooler(normed, batch: batch, length: length, hidden: hidden,
                                                        dense: pooler)
                }
            }
        }
        return results.map { $0 ?? Tensor(zeros: [0]) }
    }

    /// `[CLS]` and the projected patches, plus position embeddings, into `x` (`[N·T, H]`).
    private func embed(_ pixels: UnsafePointer<Float>, batch: Int, into x: UnsafeMutablePointer<Float>) {
        let (p, g, h, c) = (patchSize, grid, hidden, channels)
        let patchCount = g * g
        let depth = c * p * p
        let columns = scratch.patches.floats(max(1, patchCount * depth))
        let plane = imageSize * imageSize
        for n in 0..<batch {
            let image = pixels + n * c * plane
            // Unfold: one row per patch, features in the weight's (channel, row, column) order.
            for py in 0..<g {
                for px in 0..<g {
                    let row = columns + (py * g + px) * depth
                    for channel in 0..<c {
                        for ky in 0..<p {
                            let source = image + channel * plane + (py * p + ky) * imageSize + px * p
                            (row + (channel * p + ky) * p).update(from: source, count: p)
                        }
                    }
                }
            }
            let tokens = x + n * self.tokens * h
            patchProjection.apply(columns, rows: patchCount, out: tokens + h)
            clsToken.withUnsafeBufferPointer { cls in
                guard let cls = cls.baseAddress else { return }
                tokens.update(from: cls, count: h)
            }
            positionEmbeddings.withUnsafeBufferPointer { positions in
                guard let positions = positions.baseAddress else { return }
                for i in 0..<(self.tokens * h) { tokens[i] += positions[i] }
            }
        }
    }
}
