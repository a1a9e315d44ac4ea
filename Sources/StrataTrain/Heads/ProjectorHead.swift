import StrataAutodiff
import StrataTensor

/// Head 1, projector + contrastive (seeds 001, 004): each modality's pooled feature goes through
/// `Linear → ReLU → LayerNorm` to the shared width, then dropout; pairs are scored by cosine similarity
/// and trained with symmetric InfoNCE under CLIP's learnable temperature.
///
/// Parameters: `image_projector.projection.{0,2}.{weight,bias}`, `text_projector.…`, `logit_scale`.
public final class ProjectorHead: EmbeddingHead {
    public let config: HeadConfig
    public let logitScale: Parameter?
    public var scoresAreCosine: Bool { true }
    /// Image side.
    public let imageProjector: Projector
    /// Text side.
    public let textProjector: Projector

    /// A head from `imageWidth` and `textWidth` input features to `config.dim`.
    public init(config: HeadConfig, imageWidth: Int, textWidth: Int, generator: inout SeededGenerator) {
        self.config = config
        imageProjector = Projector(imageWidth, config.dim, generator: &generator)
        textProjector = Projector(textWidth, config.dim, generator: &generator)
        logitScale = HeadFactory.logitScale(config)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("image_projector", imageProjector) + prefixed("text_projector", textProjector)
            + (logitScale.map { [("logit_scale", $0)] } ?? [])
    }

    /// Image embeddings `[B, dim]` (before normalisation).
    public func embedImages(_ batch: FeatureBatch, on tape: Tape) throws -> Variable {
        let pooled = try tape.pooled(tape.constant(batch.values), mask: batch.mask)
        return try tape.dropout(try imageProjector.forward(pooled, on: tape), p: config.dropout)
    }

    /// Text embeddings `[B, dim]` (before normalisation).
    public func embedTexts(_ batch: FeatureBatch, on tape: Tape) throws -> Variable {
        let pooled = try tape.pooled(tape.constant(batch.values), mask: batch.mask)
        return try tape.dropout(try textProjector.forward(pooled, on: tape), p: config.dropout)
    }

    public func imageEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        try tape.l2Normalize(try embedImages(try inputs.image(config.image ?? ""), on: tape))
    }

    public func textEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        try tape.l2Normalize(try embedTexts(try inputs.text(config.text ?? ""), on: tape))
    }

    public func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        try tape.matmul(try imageEmbeddings(inputs, on: tape), try textEmbeddings(inputs, on: tape), transposeB: true)
    }
}
