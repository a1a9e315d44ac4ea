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
    /// The pooler (`tanh(dense(CLS))`).
    case pooler
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
        if hasPatches { outputs.append("patch_tokens") }
        if hasPooler { outputs.append("pooler_output") }
        if level.pool != nil {
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
            let prefix = "hidden_state_"
            guard level.output.hasPrefix(prefix), let index = Int(level.output.dropFirst(prefix.count)) else {
                throw fail("unknown output (available: \(outputs.joined(separator: ", ")))")
            }
            guard (0...layers).contains(index) else {
                throw fail("the model has \(layers) layers: hidden_state_0 (embeddings) ... hidden_state_\(layers)")
            }
            source = .hidden(index)
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

    /// `tanh(x[:, 0] · Wᵀ + b)` for each sequence: `[batch, outFeatures]`.
    static func pooler(_ x: UnsafePointer<Float>, batch: Int, length: Int, hidden: Int, weight: [Float],
                       bias: [Float]) -> Tensor {
        let outFeatures = bias.count
        var out = Tensor(zeros: [batch, outFeatures])
        out.withUnsafeMutableFloats { buffer in
            weight.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    guard let o = buffer.baseAddress, let w = w.baseAddress, let b = b.baseAddress else { return }
                    Kernels.linearRaw(x, rows: batch, inFeatures: hidden, xRowStride: length * hidden, weight: w,
                                      bias: b, outFeatures: outFeatures, activation: .tanh, out: o)
                }
            }
        }
        return out
    }
}
