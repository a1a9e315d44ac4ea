import Foundation
import StrataTensor

/// Where a transformer level's values come from.
enum TokenSource: Equatable {
    /// `hidden_state_K` (0 = embeddings output, K = output of layer K).
    case hidden(Int)
    /// The final hidden state (after ViT's final layer norm; BERT's last layer output).
    case last
    /// ViT's patch tokens: the final hidden state without `[CLS]`.
    case patches
    /// ViT's patch tokens of `hidden_state_K` (`hidden_state_K_patches`).
    case hiddenPatches(Int)
    /// The pooler (`tanh(dense(CLS))`).
    case pooler

    /// Whether the level keeps patch tokens only (all tokens but `[CLS]`).
    var isPatches: Bool {
        switch self {
        case .patches, .hiddenPatches: return true
        default: return false
        }
    }
}

/// Resolves transformer level names shared by BERT and ViT.
enum TokenLevels {
    /// The source and reduction of `level`, or an error listing what exists.
    static func resolve(_ level: PyramidLevel, architecture: String, layers: Int, hasPooler: Bool,
                        hasPatches: Bool) throws -> (TokenSource, PyramidLevel.Reduction) {
        func fail(_ reason: String) -> ModelError {
            .unknownLevel(architecture: architecture, level: level.description, reason: reason)
        }
        var outputs = ["last_hidden_state", "hidden_state_0...hidden_state_\(layers)", "cls", "mean_pooled"]
        if hasPatches { outputs += ["patch_tokens", "hidden_state_K_patches"] }
        if hasPooler { outputs.append("pooler_output") }
        if level.pool != nil, !hasPatches {
            throw fail("token levels take :cls or :mean, not grid pooling")
        }
        let source: TokenSource
        var reduce = level.reduce
        switch level.output {
        case "last_hidden_state": source = .last
        case "pooler_output":
            guard hasPooler else { throw fail("the checkpoint has no pooler") }
            guard reduce == .none else { throw fail("the pooler output is already one vector per sequence") }
            source = .pooler
        case "patch_tokens" where hasPatches:
            guard reduce != .cls else { throw fail("patch tokens exclude [CLS]") }
            source = .patches
        case "cls", "mean_pooled":
            guard reduce == .none else { throw fail("\(level.output) is already reduced") }
            source = .last
            reduce = level.output == "cls" ? .cls : .mean
        default:
            let prefix = "hidden_state_", suffix = "_patches"
            let patchesOnly = hasPatches && level.output.hasSuffix(suffix)
            let number = level.output.dropFirst(prefix.count).dropLast(patchesOnly ? suffix.count : 0)
            guard level.output.hasPrefix(prefix), let index = Int(number) else {
                throw fail("unknown output (available: \(outputs.joined(separator: ", ")))")
            }
            guard (0...layers).contains(index) else {
                throw fail("the model has \(layers) layers: hidden_state_0 (embeddings) ... hidden_state_\(layers)")
            }
            guard !(patchesOnly && reduce == .cls) else { throw fail("patch tokens exclude [CLS]") }
            source = patchesOnly ? .hiddenPatches(index) : .hidden(index)
        }
        if level.pool != nil {
            guard source.isPatches, reduce == .none else {
                throw fail("grid pooling applies to patch tokens (patch_tokens, hidden_state_K_patches), without :cls or :mean")
            }
        }
        return (source, reduce)
    }

    /// A level's tensor from `length` token rows per sequence of `hidden` floats.
    ///
    /// `first` skips leading tokens (ViT patch tokens skip `[CLS]`); `mask` (`[batch, length]`, nonzero
    /// = real token) weights the mean, whose divisor is clamped at 1e-9 as sentence-transformers does.
    static func extract(_ x: UnsafePointer<Float>, batch: Int, length: Int, hidden: Int, first: Int = 0,
                        reduce: PyramidLevel.Reduction, mask: [Int32]?) -> Tensor {
        let kept = length - first
        switch reduce {
        case .none:
            var out = Tensor(zeros: [batch, kept, hidden])
            out.withUnsafeMutableFloats { buffer in
                guard let o = buffer.baseAddress else { return }
                for b in 0..<batch {
                    (o + b * kept * hidden).update(from: x + (b * length + first) * hidden, count: kept * hidden)
                }
            }
            return out
        case .cls:
            var out = Tensor(zeros: [batch, hidden])
            out.withUnsafeMutableFloats { buffer in
                guard let o = buffer.baseAddress else { return }
                for b in 0..<batch { (o + b * hidden).update(from: x + b * length * hidden, count: hidden) }
            }
            return out
        case .mean:
            var out = Tensor(zeros: [batch, hidden])
            out.withUnsafeMutableFloats { buffer in
                guard let o = buffer.baseAddress else { return }
                for b in 0..<batch {
                    let row = o + b * hidden
                    var total: Float = 0
                    for l in first..<length {
                        let weight: Float = mask.map { $0[b * length + l] != 0 ? 1 : 0 } ?? 1
                        if weight == 0 { continue }
                        total += weight
                        let token = x + (b * length + l) * hidden
                        for j in 0..<hidden { row[j] += token[j] }
                    }
                    let inverse = 1 / max(total, 1e-9)
                    for j in 0..<hidden { row[j] *= inverse }
                }
            }
            return out
        }
    }

    /// Each sequence's patch tokens (the `grid × grid` tokens after `[CLS]`) averaged over an adaptive
    /// `pool[0] × pool[1]` grid, as PyTorch's `adaptive_avg_pool2d` on the `[hidden, grid, grid]` map, back as
    /// tokens in row-major cell order: `[batch, pool[0]·pool[1], hidden]`.
    static func gridPool(_ x: UnsafePointer<Float>, batch: Int, length: Int, hidden: Int, grid: ViT.PatchGrid,
                         pool: [Int]) -> Tensor {
        let (cellsHigh, cellsWide) = (pool[0], pool[1])
        var out = Tensor(zeros: [batch, cellsHigh * cellsWide, hidden])
        // Bin i of n over `size` positions spans floor(i·size/n) ..< ceil((i+1)·size/n).
        func bin(_ i: Int, _ n: Int, _ size: Int) -> Range<Int> { (i * size / n)..<(((i + 1) * size + n - 1) / n) }
        out.withUnsafeMutableFloats { buffer in
            guard let o = buffer.baseAddress else { return }
            for b in 0..<batch {
                let patches = x + (b * length + 1) * hidden
                for cy in 0..<cellsHigh {
                    for cx in 0..<cellsWide {
                        let cell = o + ((b * cellsHigh + cy) * cellsWide + cx) * hidden
                        let (rows, columns) = (bin(cy, cellsHigh, grid.height), bin(cx, cellsWide, grid.width))
                        for py in rows {
                            for px in columns {
                                let token = patches + (py * grid.width + px) * hidden
                                for j in 0..<hidden { cell[j] += token[j] }
                            }
                        }
                        let scale = 1 / Float(rows.count * columns.count)
                        for j in 0..<hidden { cell[j] *= scale }
                    }
                }
            }
        }
        return out
    }

    /// The pooler's dense layer (`pooler.dense`, weight `[out, hidden]`), or nil when the checkpoint has none.
    static func loadPooler(_ checkpoint: Checkpoint, hidden: Int) throws -> DenseLayer? {
        guard checkpoint.contains("pooler.dense.weight") else { return nil }
        let shape = try checkpoint.shape("pooler.dense.weight")
        let outFeatures = shape.count == 2 ? shape[0] : hidden
        return DenseLayer(weight: try checkpoint.floats("pooler.dense.weight", [outFeatures, hidden]),
                          bias: try checkpoint.floats("pooler.dense.bias", [outFeatures]),
                          inFeatures: hidden, outFeatures: outFeatures)
    }

    /// `tanh(x[:, 0] · Wᵀ + b)` for each sequence: `[batch, outFeatures]`.
    static func pooler(_ x: UnsafePointer<Float>, batch: Int, length: Int, hidden: Int, dense: DenseLayer) -> Tensor {
        var out = Tensor(zeros: [batch, dense.outFeatures])
        out.withUnsafeMutableFloats { buffer in
            guard let o = buffer.baseAddress else { return }
            dense.apply(x, rows: batch, xRowStride: length * hidden, activation: .tanh, out: o)
        }
        return out
    }
}
