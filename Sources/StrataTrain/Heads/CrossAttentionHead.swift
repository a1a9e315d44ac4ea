import StrataAutodiff
import StrataTensor

/// Head 2, bidirectional cross-attention (seeds 001, 002, 004), in the ALBEF arrangement:
///
/// - both sides' tokens are projected to the shared width (`Linear → ReLU → LayerNorm`);
/// - their pooled (masked-mean) projections are the contrastive embeddings, so retrieval ranks every
///   pair cheaply by cosine similarity;
/// - text→image and image→text `CrossAttentionBlock`s (multi-head attention, residual, LayerNorm, the
///   text padding mask) fuse an image with a caption; with `u`, `v` the pooled fused image and text, an
///   MLP on the matching features `[u, v, u⊙v, |u−v|]` gives the image-text matching (ITM) logit. It is trained with binary cross-entropy on the
///   batch's positive pairs and, for each image and each caption, its hardest in-batch negative (highest
///   contrastive similarity); at evaluation it can re-rank the top candidates.
public final class CrossAttentionHead: EmbeddingHead {
    public let config: HeadConfig
    public let logitScale: Parameter?
    public var scoresAreCosine: Bool { true }
    /// Image token projection.
    public let imageProjector: Projector
    /// Text token projection.
    public let textProjector: Projector
    /// Text queries attending to image tokens.
    public let textToImage: CrossAttentionBlock
    /// Image queries attending to text tokens.
    public let imageToText: CrossAttentionBlock
    /// The ITM classifier on `[u, v, u⊙v, |u−v|]`: `Linear(4·dim, dim) → ReLU → Linear(dim, 1)`.
    public let matchHead: Sequential

    /// A head from `imageWidth`/`textWidth` tokens to `config.dim`, `config.attentionHeads` heads.
    public init(config: HeadConfig, imageWidth: Int, textWidth: Int, generator: inout SeededGenerator) throws {
        self.config = config
        imageProjector = Projector(imageWidth, config.dim, generator: &generator)
        textProjector = Projector(textWidth, config.dim, generator: &generator)
        textToImage = try CrossAttentionBlock(dim: config.dim, heads: config.attentionHeads, dropout: config.dropout, generator: &generator)
        imageToText = try CrossAttentionBlock(dim: config.dim, heads: config.attentionHeads, dropout: config.dropout, generator: &generator)
        matchHead = Sequential([Linear(4 * config.dim, config.dim, generator: &generator), ActivationLayer(.relu),
                                Linear(config.dim, 1, generator: &generator)])
        logitScale = HeadFactory.logitScale(config)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("image_projector", imageProjector) + prefixed("text_projector", textProjector)
            + prefixed("text_to_image", textToImage) + prefixed("image_to_text", imageToText)
            + prefixed("itm_head", matchHead) + (logitScale.map { [("logit_scale", $0)] } ?? [])
    }

    struct Projected {
        let image: Variable, imageMask: Tensor?
        let text: Variable, textMask: Tensor?
    }

    func project(_ inputs: PairInputs, on tape: Tape) throws -> Projected {
        let (image, text) = (try inputs.image(config.image ?? ""), try inputs.text(config.text ?? ""))
        let pi = try tape.dropout(try imageProjector.forward(tape.constant(image.values), on: tape), p: config.dropout)
        let pt = try tape.dropout(try textProjector.forward(tape.constant(text.values), on: tape), p: config.dropout)
        return Projected(image: pi, imageMask: image.mask, text: pt, textMask: text.mask)
    }

    public func imageEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        let image = try inputs.image(config.image ?? "")
        let projected = try tape.dropout(try imageProjector.forward(tape.constant(image.values), on: tape), p: config.dropout)
        return try tape.l2Normalize(try tape.pooled(projected, mask: image.mask))
    }

    public func textEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        let text = try inputs.text(config.text ?? "")
        let projected = try tape.dropout(try textProjector.forward(tape.constant(text.values), on: tape), p: config.dropout)
        return try tape.l2Normalize(try tape.pooled(projected, mask: text.mask))
    }

    func contrastiveScores(_ p: Projected, on tape: Tape) throws -> Variable {
        let image = try tape.l2Normalize(try tape.pooled(p.image, mask: p.imageMask))
        let text = try tape.l2Normalize(try tape.pooled(p.text, mask: p.textMask))
        return try tape.matmul(image, text, transposeB: true)
    }

    /// ITM logits `[B]` of aligned projected pairs.
    func match(_ p: Projected, on tape: Tape) throws -> Variable {
        let imagePadding = p.imageMask.flatMap(FeatureBatch.paddingMask)
        let textPadding = p.textMask.flatMap(FeatureBatch.paddingMask)
        let fusedText = try textToImage.forward(query: p.text, context: p.image, contextPaddingMask: imagePadding, on: tape)
        let fusedImage = try imageToText.forward(query: p.image, context: p.text, contextPaddingMask: textPadding, on: tape)
        let u = try tape.pooled(fusedImage, mask: p.imageMask)
        let v = try tape.pooled(fusedText, mask: p.textMask)
        let difference = try tape.subtract(u, v)
        let absolute = try tape.add(tape.relu(difference), tape.relu(tape.scaled(difference, by: -1)))
        let joint = try tape.concat([u, v, try tape.multiply(u, v), absolute], axis: 1)
        let logits = try matchHead.forward(joint, on: tape)
        return try tape.reshape(logits, [tape.shape(of: logits)[0]])
    }

    public func scores(_ inputs: PairInputs, on tape: Tape) throws -> Variable {
        try contrastiveScores(try project(inputs, on: tape), on: tape)
    }

    public func matchScores(_ inputs: PairInputs, on tape: Tape) throws -> Variable? {
        try match(try project(inputs, on: tape), on: tape)
    }

    /// The contrastive loss comes from the shared path; here the ITM loss on positives and hard negatives.
    public func loss(_ inputs: PairInputs, on tape: Tape) throws -> (total: Variable, parts: [String: Variable]) {
        let projected = try project(inputs, on: tape)
        let s = try contrastiveScores(projected, on: tape)
        var parts: [String: Variable] = [:]
        var terms: [Variable] = []
        if config.loss.contrastive > 0 {
            let contrastive = try tape.symmetricContrastive(scores: s, logitScale: logitScaleValue(on: tape))
            parts["contrastive"] = contrastive
            terms.append(tape.scaled(contrastive, by: config.loss.contrastive))
        }
        if config.loss.itm > 0 {
            let itm = try matchLoss(inputs, positives: projected, scores: tape.value(of: s), on: tape)
            parts["itm"] = itm
            terms.append(tape.scaled(itm, by: config.loss.itm))
        }
        guard let first = terms.first else {
            throw TrainError.invalidArgument(operation: "head loss", reason: "every loss weight of '\(config.name)' is zero")
        }
        return (try terms.dropFirst().reduce(first) { try tape.add($0, $1) }, parts)
    }

    /// BCE over the positives and, per image and per caption, the most similar other item of the batch.
    func matchLoss(_ inputs: PairInputs, positives: Projected, scores: Tensor, on tape: Tape) throws -> Variable {
        let n = scores.shape[0]
        let s = scores.floats
        var hardText = [Int](repeating: 0, count: n)   // for image i, the most similar caption j ≠ i
        var hardImage = [Int](repeating: 0, count: n)  // for caption j, the most similar image i ≠ j
        for i in 0..<n {
            var (bestText, bestImage) = (-Float.infinity, -Float.infinity)
            for j in 0..<n where j != i {
                if s[i * n + j] > bestText { (bestText, hardText[i]) = (s[i * n + j], j) }
                if s[j * n + i] > bestImage { (bestImage, hardImage[i]) = (s[j * n + i], j) }
            }
        }
        let imageRows = Array(0..<n) + hardImage
        let textRows = hardText + Array(0..<n)
        var negatives = PairInputs(images: [:], texts: [:])
        for (name, batch) in inputs.images { negatives.images[name] = try batch.rows(imageRows) }
        for (name, batch) in inputs.texts { negatives.texts[name] = try batch.rows(textRows) }
        let positiveLogits = try match(positives, on: tape)
        let negativeLogits = try match(try project(negatives, on: tape), on: tape)
        let logits = try tape.concat([positiveLogits, negativeLogits], axis: 0)
        let targets = try Tensor(shape: [3 * n], floats: [Float](repeating: 1, count: n) + [Float](repeating: 0, count: 2 * n))
        return try tape.binaryCrossEntropyWithLogits(logits, targets: targets)
    }
}

extension FeatureBatch {
    /// The rows `rows` of the batch (repeats allowed), keeping the batch's padded length.
    public func rows(_ rows: [Int]) throws -> FeatureBatch {
        let (length, width) = (self.length, self.width)
        let source = values.floats
        let maskValues = mask?.floats
        var out = [Float](repeating: 0, count: rows.count * length * width)
        var outMask = [Float](repeating: 1, count: rows.count * length)
        for (r, row) in rows.enumerated() {
            for i in 0..<(length * width) { out[r * length * width + i] = source[row * length * width + i] }
            if let maskValues {
                for t in 0..<length { outMask[r * length + t] = maskValues[row * length + t] }
            }
        }
        return FeatureBatch(values: try Tensor(shape: [rows.count, length, width], floats: out),
                            mask: mask == nil ? nil : try Tensor(shape: [rows.count, length], floats: outMask))
    }
}
