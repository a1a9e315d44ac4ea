import StrataAutodiff
import StrataTensor

/// Head 5, concatenation + MLP baseline (seed 004's comments): a pair classifier on
/// `[LayerNorm(pooled image), LayerNorm(pooled text)]` → `Linear → ReLU → Dropout → Linear → ReLU →
/// Dropout → Linear(1)`, whose output is the pair's logit.
///
/// Retrieval scores all pairs. The first linear map of the concatenation is split into an image part and
/// a text part (`image_in`, `text_in`, the same function as one `Linear` on the concatenation), so the
/// `[Bi, Bt]` first-layer activations are a broadcast sum instead of `Bi·Bt` concatenations. Trained as a
/// classifier over the batch's candidates: symmetric cross-entropy of the logits against the true pairs.
public final class ConcatMLPHead: RetrievalHead {
    public let config: HeadConfig
    public var logitScale: Parameter? { nil }
    public var scoresAreCosine: Bool { false }
    /// Normalises the pooled image feature.
    public let imageNorm: LayerNorm
    /// Normalises the pooled text feature.
    public let textNorm: LayerNorm
    /// The image columns of the first layer (with its bias).
    public let imageIn: Linear
    /// The text columns of the first layer.
    public let textIn: Linear
    /// Second hidden layer.
    public let hidden: Linear
    /// Output logit.
    public let output: Linear

    /// A classifier over `imageWidth + textWidth` inputs with `config.hidden` hidden units.
    public init(config: HeadConfig, imageWidth: Int, textWidth: Int, generator: inout SeededGenerator) {
        self.config = config
        imageNorm = LayerNorm(imageWidth)
        textNorm = LayerNorm(textWidth)
        // nn.Linear(imageWidth + textWidth, hidden) initialisation bound, shared by both parts.
        let joint = Linear(imageWidth + textWidth, config.hidden, generator: &generator)
        imageIn = Linear(imageWidth, config.hidden, generator: &generator)
        textIn = Linear(textWidth, config.hidden, bias: false, generator: &generator)
        let (w, h) = (joint.weight.value.floats, config.hidden)
        var (wi, wt) = ([Float](), [Float]())
        for row in 0..<h {
            wi += w[(row * (imageWidth + textWidth))..<(row * (imageWidth + textWidth) + imageWidth)]
            wt += w[(row * (imageWidth + textWidth) + imageWidth)..<((row + 1) * (imageWidth + textWidth))]
        }
        if let a = try? Tensor(shape: [h, imageWidth], floats: wi), let b = try? Tensor(shape: [h, textWidth], floats: wt) {
            imageIn.weight.value = a
            textIn.weight.value = b
        }
        if let bias = joint.bias, let target = imageIn.bias { target.value = bias.value }
        hidden = Linear(config.hidden, config.hidden, generator: &generator)
        output = Linear(config.hidden, 1, generator: &generator)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("image_norm", imageNorm) + prefixed("text_norm", textNorm) + prefixed("image_in", imageIn)
            + prefixed("text_in", textIn) + prefixed("hidden", hidden) + prefixed("output", output)
    }

    public func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        let (image, text) = (try inputs.image(config.image ?? ""), try inputs.text(config.text ?? ""))
        let xi = try imageNorm.forward(try tape.pooled(tape.constant(image.values), mask: image.mask), on: tape)
        let xt = try textNorm.forward(try tape.pooled(tape.constant(text.values), mask: text.mask), on: tape)
        let (bi, bt, h) = (image.count, text.count, config.hidden)
        let a = try tape.reshape(try imageIn.forward(xi, on: tape), [bi, 1, h])
        let b = try tape.reshape(try textIn.forward(xt, on: tape), [1, bt, h])
        let first = try tape.dropout(tape.relu(try tape.add(a, b)), p: config.dropout)
        let second = try tape.dropout(tape.relu(try hidden.forward(first, on: tape)), p: config.dropout)
        return try tape.reshape(try output.forward(second, on: tape), [bi, bt])
    }
}
