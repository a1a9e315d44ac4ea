import Foundation
import StrataTensor

/// A Vision Transformer from a Hugging Face `ViTModel` folder (`config.json` + weights in any format,
/// names with or without the `vit.` prefix that classification and DeiT checkpoints add): any hidden
/// size, depth, patch and image size, from the config. Images of another size than the config's
/// `image_size` (a pipeline crop that differs) run with the position embeddings resized bicubically, as
/// Hugging Face's `interpolate_pos_encoding=True` does.
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
              pixels.shape[2] >= patchSize, pixels.shape[3] >= patchSize else {
            throw ModelError.badInput(architecture: architecture,
                                      reason: "pixels must be f32 [N, \(channels), H, W] with H, W >= \(patchSize), got \(pixels.dtype) \(pixels.shape)")
        }
        let batch = pixels.shape[0]
        let grid = PatchGrid(height: pixels.shape[2] / patchSize, width: pixels.shape[3] / patchSize)
        let length = grid.count + 1
        let rows = batch * length
        let x = scratch.hidden.floats(max(1, rows * hidden))
        let positions = positionEmbeddings(for: grid)
        pixels.withUnsafeFloats { buffer in
            guard let base = buffer.baseAddress else { return }
            embed(base, batch: batch, imageHeight: pixels.shape[2], imageWidth: pixels.shape[3], grid: grid,
                  positions: positions, into: x)
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

    /// A patch grid, rows by columns.
    struct PatchGrid: Equatable {
        let height: Int, width: Int
        var count: Int { height * width }
    }

    /// The position embeddings of a grid other than the checkpoint's, kept for the next batch.
    private var resized: (grid: PatchGrid, values: [Float])?

    /// Position embeddings (`[1 + gh·gw, H]`) for `grid`: the checkpoint's for its own square grid, else its
    /// patch part resized bicubically as Hugging Face's `interpolate_pos_encoding` does (PyTorch's
    /// `interpolate(mode="bicubic", align_corners=False)`), `[CLS]`'s row kept.
    func positionEmbeddings(for grid: PatchGrid) -> [Float] {
        if grid == PatchGrid(height: self.grid, width: self.grid) { return positionEmbeddings }
        if let resized, resized.grid == grid { return resized.values }
        let values = ViT.bicubicPositions(positionEmbeddings, side: self.grid, hidden: hidden, to: grid)
        resized = (grid, values)
        return values
    }

    /// `[CLS]`'s row, then the `side × side` patch rows resampled to `grid` with PyTorch's bicubic kernel
    /// (A = -0.75, source index (o + 0.5)·in/out - 0.5, neighbours clamped at the borders).
    static func bicubicPositions(_ table: [Float], side: Int, hidden: Int, to grid: PatchGrid) -> [Float] {
        var out = [Float](repeating: 0, count: (1 + grid.count) * hidden)
        for j in 0..<hidden { out[j] = table[j] }
        func taps(_ output: Int, _ outSize: Int) -> (indices: [Int], weights: [Float]) {
            let scale = Float(side) / Float(outSize)
            let source = (Float(output) + 0.5) * scale - 0.5
            let floor = source.rounded(.down)
            let t = source - floor
            let a: Float = -0.75
            func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
            func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            let base = Int(floor)
            let indices = ((base - 1)...(base + 2)).map { min(max($0, 0), side - 1) }
            return (indices, [far(t + 1), near(t), near(1 - t), far(2 - t)])
        }
        let rowTaps = (0..<grid.height).map { taps($0, grid.height) }
        let columnTaps = (0..<grid.width).map { taps($0, grid.width) }
        for oy in 0..<grid.height {
            let (rows, wy) = rowTaps[oy]
            for ox in 0..<grid.width {
                let (columns, wx) = columnTaps[ox]
                let target = (1 + oy * grid.width + ox) * hidden
                for j in 0..<hidden {
                    var value: Float = 0
                    for r in 0..<4 {
                        let row = 1 + rows[r] * side
                        var line: Float = 0
                        for c in 0..<4 { line += table[(row + columns[c]) * hidden + j] * wx[c] }
                        value += line * wy[r]
                    }
                    out[target + j] = value
                }
            }
        }
        return out
    }

    /// `[CLS]` and the projected patches, plus position embeddings, into `x` (`[N·T, H]`); pixels past the
    /// last whole patch are dropped, as the strided patch convolution does.
    private func embed(_ pixels: UnsafePointer<Float>, batch: Int, imageHeight: Int, imageWidth: Int, grid: PatchGrid,
                       positions: [Float], into x: UnsafeMutablePointer<Float>) {
        let (p, h, c) = (patchSize, hidden, channels)
        let depth = c * p * p
        let columns = scratch.patches.floats(max(1, grid.count * depth))
        let plane = imageHeight * imageWidth
        let length = grid.count + 1
        for n in 0..<batch {
            let image = pixels + n * c * plane
            // Unfold: one row per patch, features in the weight's (channel, row, column) order.
            for py in 0..<grid.height {
                for px in 0..<grid.width {
                    let row = columns + (py * grid.width + px) * depth
                    for channel in 0..<c {
                        for ky in 0..<p {
                            let source = image + channel * plane + (py * p + ky) * imageWidth + px * p
                            (row + (channel * p + ky) * p).update(from: source, count: p)
                        }
                    }
                }
            }
            let tokens = x + n * length * h
            patchProjection.apply(columns, rows: grid.count, out: tokens + h)
            clsToken.withUnsafeBufferPointer { cls in
                guard let cls = cls.baseAddress else { return }
                tokens.update(from: cls, count: h)
            }
            positions.withUnsafeBufferPointer { positions in
                guard let positions = positions.baseAddress else { return }
                for i in 0..<(length * h) { tokens[i] += positions[i] }
            }
        }
    }
}
