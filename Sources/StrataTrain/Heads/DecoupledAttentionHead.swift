import StrataAutodiff
import StrataTensor

/// Head 3, decoupled attention (seed 003): text queries attend to image features only.
///
/// Both sides' tokens are projected to the shared width (`Linear → ReLU → LayerNorm`); `query` and `key`
/// linear maps turn text tokens into queries and image tokens into keys; one scaled dot-product
/// attention gathers, for each text token, a mix of the image's projected tokens. A pair's score is
/// the mean over real text tokens of the cosine between the gathered vector and the token, trained
/// with the symmetric contrastive loss. No image→text path and no fusion of the two streams: each
/// modality's representation stays its own.
public final class DecoupledAttentionHead: RetrievalHead {
    public let config: HeadConfig
    public let logitScale: Parameter?
    public var scoresAreCosine: Bool { true }
    public var evaluationBlock: (images: Int, captions: Int) { (64, 256) }
    /// Image token projection.
    public let imageProjector: Projector
    /// Text token projection.
    public let textProjector: Projector
    /// Text token → query.
    public let query: Linear
    /// Image token → key.
    public let key: Linear

    /// A head from `imageWidth`/`textWidth` tokens to `config.dim`.
    public init(config: HeadConfig, imageWidth: Int, textWidth: Int, generator: inout SeededGenerator) {
        self.config = config
        imageProjector = Projector(imageWidth, config.dim, generator: &generator)
        textProjector = Projector(textWidth, config.dim, generator: &generator)
        query = Linear(config.dim, config.dim, generator: &generator)
        key = Linear(config.dim, config.dim, generator: &generator)
        logitScale = HeadFactory.logitScale(config)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("image_projector", imageProjector) + prefixed("text_projector", textProjector)
            + prefixed("query", query) + prefixed("key", key) + (logitScale.map { [("logit_scale", $0)] } ?? [])
    }

    public func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        let (image, text) = (try inputs.image(config.image ?? ""), try inputs.text(config.text ?? ""))
        let v = try tape.dropout(try imageProjector.forward(tape.constant(image.values), on: tape), p: config.dropout)
        let t = try tape.dropout(try textProjector.forward(tape.constant(text.values), on: tape), p: config.dropout)
        return try tape.textToImageScores(text: t, textMask: text.mask, query: try query.forward(t, on: tape),
                                          key: try key.forward(v, on: tape), value: v, imageMask: image.mask,
                                          heads: 1, dropout: 0)
    }
}
