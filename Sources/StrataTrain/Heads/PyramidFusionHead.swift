import Foundation
import StrataAutodiff
import StrataTensor

/// Head 4, pyramid fusion (seed 000 and its comments): every configured level pairs an image level
/// (e.g. ResNet C3, C4, C5, as `H·W` tokens) with a text level (a transformer layer's tokens). Each side
/// of a level is projected to the common width (the 1×1 convolution of the notes is a linear map over
/// channels) and layer-normalised; per level, text tokens attend to the level's image tokens
/// (multi-head scaled dot-product, `config.attentionHeads`), giving a text-to-image score as in the
/// decoupled head; the level scores are combined with learned weights (a softmax over one logit per
/// level, starting equal). Trained with the symmetric contrastive loss.
public final class PyramidFusionHead: RetrievalHead {
    /// One level's projections.
    public final class Level: Module {
        /// Image channels → width, then LayerNorm.
        public let image: Sequential
        /// Text hidden size → width, then LayerNorm.
        public let text: Sequential

        init(imageWidth: Int, textWidth: Int, dim: Int, generator: inout SeededGenerator) {
            image = Sequential([Linear(imageWidth, dim, generator: &generator), LayerNorm(dim)])
            text = Sequential([Linear(textWidth, dim, generator: &generator), LayerNorm(dim)])
        }

        public var namedParameters: [(name: String, parameter: Parameter)] {
            prefixed("image", image) + prefixed("text", text)
        }
    }

    public let config: HeadConfig
    public let logitScale: Parameter?
    public var scoresAreCosine: Bool { true }
    public var evaluationBlock: (images: Int, captions: Int) { (64, 256) }
    /// The levels, in configuration order.
    public let levels: [Level]
    /// One logit per level; the level weights are their softmax.
    public let levelLogits: Parameter

    /// A head over levels of (image width, text width), projected to `config.dim`.
    public init(config: HeadConfig, widths: [(Int, Int)], generator: inout SeededGenerator) {
        self.config = config
        levels = widths.map { Level(imageWidth: $0.0, textWidth: $0.1, dim: config.dim, generator: &generator) }
        levelLogits = Parameter(Tensor(zeros: [widths.count]))
        logitScale = HeadFactory.logitScale(config)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        levels.enumerated().flatMap { prefixed("levels.\($0.offset)", $0.element) }
            + [("level_logits", levelLogits)] + (logitScale.map { [("logit_scale", $0)] } ?? [])
    }

    /// The current level weights (softmax of the level logits).
    public var levelWeights: [Float] {
        let logits = levelLogits.value.floats
        let top = logits.max() ?? 0
        let e = logits.map { expf($0 - top) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    public func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        let weights = try tape.softmax(tape.parameter(levelLogits))
        var combined: Variable?
        for (index, (level, columns)) in zip(levels, config.levels ?? []).enumerated() {
            let (image, text) = (try inputs.image(columns.image), try inputs.text(columns.text))
            let v = try tape.dropout(try level.image.forward(tape.constant(image.values), on: tape), p: config.dropout)
            let t = try tape.dropout(try level.text.forward(tape.constant(text.values), on: tape), p: config.dropout)
            let score = try tape.textToImageScores(text: t, textMask: text.mask, query: t, key: v, value: v,
                                                   imageMask: image.mask, heads: config.attentionHeads, dropout: 0)
            let weighted = try tape.multiply(score, try tape.slice(weights, axis: 0, index..<(index + 1)))
            combined = try combined.map { try tape.add($0, weighted) } ?? weighted
        }
        guard let combined else {
            throw TrainError.headConfig(file: config.name, reason: "the pyramid head has no levels")
        }
        return combined
    }
}
