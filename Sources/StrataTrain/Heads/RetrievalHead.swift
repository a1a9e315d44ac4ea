import Foundation
import StrataAutodiff
import StrataTensor

/// A trainable fusion or alignment head over cached features.
///
/// Every head scores every image of a batch against every text of a batch (`scores`, `[Bi, Bt]`), which
/// is what both the in-batch contrastive loss and retrieval evaluation need. Heads with an image-text
/// matching classifier also score aligned pairs (`matchScores`), used for the ITM loss and re-ranking.
public protocol RetrievalHead: Module {
    /// The configuration the head was built from.
    var config: HeadConfig { get }
    /// CLIP's learnable `logit_scale` (clamped to `[0, ln 100]` after each step), or nil.
    var logitScale: Parameter? { get }
    /// Whether `scores` are cosine similarities (to be multiplied by the logit scale) or raw logits.
    var scoresAreCosine: Bool { get }
    /// Similarity of every image in `inputs.images` with every text in `inputs.texts`: `[Bi, Bt]`.
    func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable
    /// The weighted training loss on a batch of aligned pairs (row `i` image with row `i` text) and its
    /// named parts; by default the symmetric contrastive loss on `scores`.
    func loss(_ inputs: PairInputs, on tape: Tape) throws -> (total: Variable, parts: [String: Variable])
    /// ITM logits of aligned pairs (`[B]`), or nil for heads without a matching classifier.
    func matchScores(_ inputs: PairInputs, on tape: Tape) throws -> Variable?
    /// Images × captions scored per call at evaluation: heads whose every pair costs a token-level
    /// attention (decoupled, pyramid) use small blocks to bound memory.
    var evaluationBlock: (images: Int, captions: Int) { get }
}

extension RetrievalHead {
    public func matchScores(_ inputs: PairInputs, on tape: Tape) throws -> Variable? { nil }
    public var evaluationBlock: (images: Int, captions: Int) { (128, 256) }

    public func loss(_ inputs: PairInputs, on tape: Tape) throws -> (total: Variable, parts: [String: Variable]) {
        let s = try scores(inputs, on: tape)
        let contrastive = try tape.symmetricContrastive(scores: s, logitScale: scoresAreCosine ? logitScaleValue(on: tape) : nil)
        return (contrastive, ["contrastive": contrastive])
    }

    /// The logit scale on the tape: the parameter, or the constant `ln(1/temperature)` when it is fixed.
    func logitScaleValue(on tape: Tape) -> Variable {
        if let logitScale { return tape.parameter(logitScale) }
        return tape.constant(Initializer.filled([], Float(Foundation.log(1 / Double(config.loss.temperature)))))
    }
}

extension Tape {
    /// Symmetric cross-entropy of a square score matrix against its diagonal: `logits = scores·e^{s}`
    /// (or the scores themselves when `logitScale` is nil), rows (image→text) and columns (text→image)
    /// averaged. With cosine scores this is `symmetricInfoNCE`.
    public func symmetricContrastive(scores: Variable, logitScale: Variable?) throws -> Variable {
        let shape = self.shape(of: scores)
        guard shape.count == 2, shape[0] == shape[1] else {
            throw TrainError.shapeMismatch(operation: "symmetricContrastive", shapes: [shape])
        }
        let logits = try logitScale.map { try multiply(scores, exp($0)) } ?? scores
        let targets = Array(0..<shape[0])
        let rows = try crossEntropy(logits, targets: targets)
        let columns = try crossEntropy(try transpose(logits, 0, 1), targets: targets)
        return scaled(try add(rows, columns), by: 0.5)
    }

    /// Pools token features `[B, L, W]` to `[B, W]`: the single token, or the mean over real tokens.
    func pooled(_ x: Variable, mask: Tensor?) throws -> Variable {
        let shape = self.shape(of: x)
        if shape[1] == 1 { return try reshape(x, [shape[0], shape[2]]) }
        if let mask { return try maskedMean(x, mask: mask) }
        return try mean(x, axis: 1)
    }

    /// Text-to-image attention scores of every image with every text (seed 003's decoupled attention,
    /// and one pyramid level): each text token's query attends over an image's keys with scaled
    /// dot-product attention and gathers its values; the pair's score is the mean over real text tokens
    /// of the cosine between the gathered vector and the token's own feature.
    ///
    /// `text`, `query` are `[Bt, L, D]`; `key`, `value` `[Bi, N, D]`; the result is `[Bi, Bt]`. Outside
    /// training the scores come from `TextToImageInference` (same values, no graph, far less memory).
    func textToImageScores(text: Variable, textMask: Tensor?, query: Variable, key: Variable, value: Variable,
                           imageMask: Tensor?, heads: Int, dropout: Float) throws -> Variable {
        if !isTraining {
            return constant(try TextToImageInference.scores(text: self.value(of: text), textMask: textMask, query: self.value(of: query),
                                                            key: self.value(of: key), value: self.value(of: value),
                                                            imageMask: imageMask, heads: heads))
        }
        let (st, sk) = (shape(of: text), shape(of: key))
        let (textCount, length, width, imageCount) = (st[0], st[1], st[2], sk[0])
        let flatQuery = try reshape(query, [1, textCount * length, width])
        let tiled = try add(flatQuery, constant(Tensor(zeros: [imageCount, 1, 1])))
        let attended = try attention(query: tiled, key: key, value: value, heads: heads,
                                     keyMask: imageMask.map { KeyMask.attend($0) }, dropout: dropout)
        let flatText = try l2Normalize(try reshape(text, [1, textCount * length, width]), eps: 1e-8)
        let cosines = try sum(try multiply(try l2Normalize(attended, eps: 1e-8), flatText), axis: 2)
        var weights = [Float](repeating: 0, count: textCount * length)
        let maskValues = textMask?.floats
        for t in 0..<textCount {
            let real = maskValues.map { m in (0..<length).filter { m[t * length + $0] != 0 }.count } ?? length
            for l in 0..<length where maskValues.map({ $0[t * length + l] != 0 }) ?? true {
                weights[t * length + l] = 1 / Float(max(real, 1))
            }
        }
        let weighted = try multiply(cosines, constant(try Tensor(shape: [1, textCount * length], floats: weights)))
        return try sum(try reshape(weighted, [imageCount, textCount, length]), axis: 2)
    }
}

/// Builds the head a configuration describes, with input widths from the loaded data.
public enum HeadFactory {
    /// A freshly initialised head; `imageWidths` and `textWidths` give each column's token width.
    public static func make(_ config: HeadConfig, imageWidths: [String: Int], textWidths: [String: Int]) throws -> RetrievalHead {
        func width(_ column: String?, _ widths: [String: Int]) throws -> Int {
            guard let column, let w = widths[column] else {
                throw TrainError.headConfig(file: config.name, reason: "no width known for column '\(column ?? "")'")
            }
            return w
        }
        var generator = SeededGenerator(seed: config.train.seed)
        switch config.kind {
        case .projector:
            return ProjectorHead(config: config, imageWidth: try width(config.image, imageWidths),
                                 textWidth: try width(config.text, textWidths), generator: &generator)
        case .crossAttention:
            return try CrossAttentionHead(config: config, imageWidth: try width(config.image, imageWidths),
                                          textWidth: try width(config.text, textWidths), generator: &generator)
        case .decoupled:
            return DecoupledAttentionHead(config: config, imageWidth: try width(config.image, imageWidths),
                                          textWidth: try width(config.text, textWidths), generator: &generator)
        case .pyramid:
            let levels = config.levels ?? []
            return PyramidFusionHead(config: config,
                                     widths: try levels.map { (try width($0.image, imageWidths), try width($0.text, textWidths)) },
                                     generator: &generator)
        case .concatMLP:
            return ConcatMLPHead(config: config, imageWidth: try width(config.image, imageWidths),
                                 textWidth: try width(config.text, textWidths), generator: &generator)
        }
    }

    /// A learnable CLIP logit scale starting at `ln(1/temperature)`, or nil when the temperature is fixed.
    static func logitScale(_ config: HeadConfig) -> Parameter? {
        guard config.loss.learnableTemperature else { return nil }
        return Parameter(Initializer.filled([], Float(Foundation.log(1 / Double(config.loss.temperature)))))
    }
}
