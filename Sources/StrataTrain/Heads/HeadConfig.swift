import Foundation
import StrataSchema
import Yams

/// A head and how to train it, as written in `heads/*.yaml`.
///
/// ```yaml
/// name: projector               # label in tables and reports
/// kind: projector               # projector | cross-attention | decoupled | pyramid | concat-mlp
/// image: image/resnet50/pooled  # image column (projector, cross-attention, decoupled, concat-mlp)
/// text: text/bert/mean          # text column
/// levels:                       # pyramid only: image and text column per level
///   - {image: image/resnet50/c3, text: text/bert/tokens}
/// dim: 256                      # shared width
/// attention_heads: 8
/// hidden: 512                   # concat-mlp hidden width
/// dropout: 0.1
/// loss: {contrastive: 1.0, itm: 1.0, temperature: 0.07, learnable_temperature: true}
/// train: {epochs: 20, batch_size: 128, learning_rate: 0.001, weight_decay: 0.01, grad_clip: 1.0,
///         warmup_steps: 50, patience: 3, seed: 0, max_text_length: 40, split: train, val_split: val}
/// eval: {rerank_top_k: 16}
/// ```
public struct HeadConfig: Codable, Equatable, Sendable {
    /// The five heads.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case projector
        case crossAttention = "cross-attention"
        case decoupled
        case pyramid
        case concatMLP = "concat-mlp"
    }

    /// One pyramid level: an image column fused with a text column.
    public struct Level: Codable, Equatable, Sendable {
        /// Image column of the level.
        public var image: String
        /// Text column of the level.
        public var text: String

        /// A level pairing `image` with `text`.
        public init(image: String, text: String) {
            self.image = image
            self.text = text
        }
    }

    /// Loss weights and temperature.
    public struct Loss: Codable, Equatable, Sendable {
        /// Weight of the symmetric contrastive loss.
        public var contrastive: Float = 1
        /// Weight of the image-text matching loss (cross-attention head only).
        public var itm: Float = 1
        /// Initial temperature of the contrastive logits (CLIP: 0.07).
        public var temperature: Float = 0.07
        /// Whether the temperature is learned (as CLIP's `logit_scale`, clamped to `[0, ln 100]`).
        public var learnableTemperature = true

        enum CodingKeys: String, CodingKey {
            case contrastive, itm, temperature
            case learnableTemperature = "learnable_temperature"
        }

        /// Defaults: weights 1, temperature 0.07, learnable.
        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            contrastive = try c.decodeIfPresent(Float.self, forKey: .contrastive) ?? 1
            itm = try c.decodeIfPresent(Float.self, forKey: .itm) ?? 1
            temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? 0.07
            learnableTemperature = try c.decodeIfPresent(Bool.self, forKey: .learnableTemperature) ?? true
        }
    }

    /// Optimisation settings.
    public struct Training: Codable, Equatable, Sendable {
        /// Passes over the training images (each with one of its captions, drawn per epoch).
        public var epochs = 20
        /// Image-caption pairs per step (images in a batch are distinct).
        public var batchSize = 128
        /// AdamW learning rate.
        public var learningRate: Float = 1e-3
        /// AdamW decoupled weight decay (not applied to biases, norms and the logit scale).
        public var weightDecay: Float = 0.01
        /// Global gradient-norm clip; 0 disables it.
        public var gradClip: Float = 1
        /// Linear warm-up steps before a cosine decay to zero at the last step.
        public var warmupSteps = 0
        /// Epochs without a better validation Recall before stopping; 0 disables early stopping.
        public var patience = 3
        /// Seed of initial weights, epoch order, caption choice and dropout.
        public var seed: UInt64 = 0
        /// Longest token sequence read from token-level text columns.
        public var maxTextLength = 64
        /// Split trained on.
        public var split = "train"
        /// Split evaluated after each epoch (early stopping, best checkpoint).
        public var valSplit = "val"

        enum CodingKeys: String, CodingKey {
            case epochs, seed, patience, split
            case batchSize = "batch_size", learningRate = "learning_rate", weightDecay = "weight_decay"
            case gradClip = "grad_clip", warmupSteps = "warmup_steps", maxTextLength = "max_text_length"
            case valSplit = "val_split"
        }

        /// The defaults listed on each property.
        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Training()
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
            learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
            weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
            gradClip = try c.decodeIfPresent(Float.self, forKey: .gradClip) ?? d.gradClip
            warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
            patience = try c.decodeIfPresent(Int.self, forKey: .patience) ?? d.patience
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
            maxTextLength = try c.decodeIfPresent(Int.self, forKey: .maxTextLength) ?? d.maxTextLength
            split = try c.decodeIfPresent(String.self, forKey: .split) ?? d.split
            valSplit = try c.decodeIfPresent(String.self, forKey: .valSplit) ?? d.valSplit
        }
    }

    /// Evaluation settings.
    public struct Evaluation: Codable, Equatable, Sendable {
        /// For heads with an ITM score: re-rank this many top candidates per query by it (0: off).
        public var rerankTopK = 0

        enum CodingKeys: String, CodingKey { case rerankTopK = "rerank_top_k" }

        /// No re-ranking.
        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rerankTopK = try c.decodeIfPresent(Int.self, forKey: .rerankTopK) ?? 0
        }
    }

    /// Label in tables and reports.
    public var name: String
    /// Which head.
    public var kind: Kind
    /// Image column (all heads but pyramid).
    public var image: String?
    /// Text column (all heads but pyramid).
    public var text: String?
    /// Pyramid levels.
    public var levels: [Level]?
    /// Shared width.
    public var dim = 256
    /// Attention heads.
    public var attentionHeads = 8
    /// Hidden width of the concat-MLP head.
    public var hidden = 512
    /// Dropout probability.
    public var dropout: Float = 0.1
    /// Loss settings.
    public var loss = Loss()
    /// Training settings.
    public var train = Training()
    /// Evaluation settings.
    public var eval = Evaluation()

    enum CodingKeys: String, CodingKey {
        case name, kind, image, text, levels, dim, hidden, dropout, loss, train, eval
        case attentionHeads = "attention_heads"
    }

    /// A configuration with defaults for everything but the head and its columns.
    public init(name: String, kind: Kind, image: String? = nil, text: String? = nil, levels: [Level]? = nil) {
        self.name = name
        self.kind = kind
        self.image = image
        self.text = text
        self.levels = levels
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? kind.rawValue
        image = try c.decodeIfPresent(String.self, forKey: .image)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        levels = try c.decodeIfPresent([Level].self, forKey: .levels)
        dim = try c.decodeIfPresent(Int.self, forKey: .dim) ?? 256
        attentionHeads = try c.decodeIfPresent(Int.self, forKey: .attentionHeads) ?? 8
        hidden = try c.decodeIfPresent(Int.self, forKey: .hidden) ?? 512
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0.1
        loss = try c.decodeIfPresent(Loss.self, forKey: .loss) ?? Loss()
        train = try c.decodeIfPresent(Training.self, forKey: .train) ?? Training()
        eval = try c.decodeIfPresent(Evaluation.self, forKey: .eval) ?? Evaluation()
    }

    /// Parses YAML text; `file` names the source in errors.
    /// The document is checked against `HeadSchema` first, so unknown keys and bad values are named
    /// by their dotted key with the allowed ones.
    public static func parse(_ yaml: String, file: String = "<yaml>") throws -> HeadConfig {
        let loaded: Any?
        do {
            loaded = try JSONDocument.loadYAML(yaml)
        } catch {
            throw TrainError.headConfig(file: file, reason: "not valid YAML: \(error)")
        }
        let validator = try schemaValidator()
        if let first = validator.violations(of: JSONDocument.normalize(loaded ?? [String: Any]())).first {
            throw TrainError.invalidHeadValue(file: file, key: first.key, reason: first.reason)
        }
        let config: HeadConfig
        do {
            config = try YAMLDecoder().decode(HeadConfig.self, from: yaml)
        } catch {
            throw TrainError.headConfig(file: file, reason: "\(error)")
        }
        try config.validate(file: file)
        return config
    }

    private static func schemaValidator() throws -> SchemaValidator {
        do {
            return try SchemaValidator(schemaJSON: HeadSchema.json)
        } catch {
            throw TrainError.headConfig(file: "<head schema>", reason: "\(error)")
        }
    }

    /// Reads and parses a YAML file.
    public static func load(path: String) throws -> HeadConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TrainError.headConfig(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// The configuration as YAML (stored in checkpoints so `eval` rebuilds the head).
    public func yaml() throws -> String {
        do {
            return try YAMLEncoder().encode(self)
        } catch {
            throw TrainError.headConfig(file: name, reason: "cannot encode: \(error)")
        }
    }

    /// The image columns the head reads, in order.
    public var imageColumns: [String] {
        HeadConfig.unique(kind == .pyramid ? (levels ?? []).map(\.image) : image.map { [$0] } ?? [])
    }

    /// The text columns the head reads, in order.
    public var textColumns: [String] {
        HeadConfig.unique(kind == .pyramid ? (levels ?? []).map(\.text) : text.map { [$0] } ?? [])
    }

    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// Checks what decoding cannot: columns present for the head, positive sizes, ranges.
    public func validate(file: String) throws {
        func fail(_ reason: String) -> TrainError { .headConfig(file: file, reason: reason) }
        func invalid(_ key: String, _ reason: String) -> TrainError { .invalidHeadValue(file: file, key: key, reason: reason) }
        if kind == .pyramid {
            guard let levels, !levels.isEmpty else { throw invalid("levels", "is required by kind pyramid (an image and a text column per level)") }
            if image != nil || text != nil { throw invalid(image != nil ? "image" : "text", "does not apply to kind pyramid (give the columns in levels)") }
        } else {
            guard image != nil else { throw invalid("image", "is required by kind \(kind.rawValue)") }
            guard text != nil else { throw invalid("text", "is required by kind \(kind.rawValue)") }
            if levels != nil { throw invalid("levels", "applies to kind pyramid only") }
        }
        guard dim > 0, hidden > 0, attentionHeads > 0 else { throw fail("dim, hidden and attention_heads must be positive") }
        if kind == .crossAttention || kind == .pyramid, dim % attentionHeads != 0 {
            throw invalid("attention_heads", "must divide dim \(dim), found \(attentionHeads)")
        }
        guard (0..<1).contains(dropout) else { throw fail("dropout \(dropout) outside [0, 1)") }
        guard loss.temperature > 0 else { throw fail("temperature must be positive") }
        guard train.epochs > 0, train.batchSize >= 2 else { throw fail("epochs must be positive and batch_size at least 2") }
        guard train.learningRate > 0, train.maxTextLength > 0 else { throw fail("learning_rate and max_text_length must be positive") }
        guard train.patience >= 0, train.warmupSteps >= 0, train.gradClip >= 0, eval.rerankTopK >= 0 else {
            throw fail("patience, warmup_steps, grad_clip and rerank_top_k must not be negative")
        }
    }
}
