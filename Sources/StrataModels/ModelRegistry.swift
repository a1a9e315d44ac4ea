import Foundation
import StrataTensor

/// What Strata knows about one model family, in one place: its name, modality, outputs and their strides,
/// how its checkpoints are laid out, how it loads and how its seeded weights are drawn. The pipeline, its
/// schema and `strata encode` ask `ModelRegistry` instead of repeating any of it.
public struct ModelFamily: @unchecked Sendable {
    /// What a family encodes.
    public enum Modality: String, Sendable { case image, text }

    /// A convolutional output map and its stride in input pixels.
    public struct FeatureMap: Sendable, Equatable {
        public let name: String
        public let stride: Int
    }

    /// The name pipelines and `strata encode --model` use (`resnet101`, `vit`, `bert`).
    public let name: String
    /// The manifest's architecture (`resnet`, `vit`, `bert`).
    public let architecture: String
    /// Images or text.
    public let modality: Modality
    /// Convolutional feature maps a level may name (poolable), shallowest first; empty for token families.
    public let featureMaps: [FeatureMap]
    /// Outputs of convolutional families that are one vector per input (`avgpool`, `fc`).
    public let vectors: [String]
    /// Whether the family has ViT-style patch tokens (`reduce: patches`, grid pooling of tokens).
    public let hasPatchTokens: Bool
    /// Whether checkpoints are Hugging Face folders whose `config.json` sets the sizes.
    public let usesConfig: Bool
    let loadImage: ((URL) throws -> any ImageEncoder)?
    let loadText: ((URL) throws -> any TextEncoder)?
    /// Seeded weights under the checkpoint's names (sizes apply to families that use a config).
    let seededWeights: (SeededWeights.TransformerSizes, UInt64) throws -> [(String, Tensor)]
    /// The `config.json` written beside seeded weights (nil for families without one).
    let seededConfig: (SeededWeights.TransformerSizes) -> [String: Any]?

    /// Whether levels are token sequences (transformers) rather than convolutional maps and vectors.
    public var isTokenFamily: Bool { featureMaps.isEmpty && vectors.isEmpty }

    /// The spatial stride of `output` in input pixels, for feature maps.
    public func stride(of output: String) -> Int? { featureMaps.first { $0.name == output }?.stride }

    /// Whether `output` names a feature map (which takes grid pooling).
    public func isFeatureMap(_ output: String) -> Bool { stride(of: output) != nil }

    /// Whether a level may name `output` (the layer range of `hidden_state_K` is checked against the loaded
    /// model's depth when it loads).
    public func accepts(output: String) -> Bool {
        guard isTokenFamily else { return isFeatureMap(output) || vectors.contains(output) }
        if ["last_hidden_state", "pooler_output", "cls", "mean_pooled"].contains(output) { return true }
        if hasPatchTokens, output == "patch_tokens" { return true }
        let prefix = "hidden_state_", suffix = "_patches"
        guard output.hasPrefix(prefix) else { return false }
        var number = output.dropFirst(prefix.count)
        if hasPatchTokens, number.hasSuffix(suffix) { number = number.dropLast(suffix.count) }
        return Int(number).map { $0 >= 0 } ?? false
    }

    /// The outputs `strata encode` writes when no level is asked for.
    public var defaultOutputs: [String] {
        isTokenFamily ? ["last_hidden_state", "pooler_output"] : featureMaps.map(\.name) + vectors
    }

    /// Outputs a level may name, as written in errors and help.
    public var outputSummary: String {
        guard isTokenFamily else { return (featureMaps.map(\.name) + vectors).joined(separator: ", ") }
        var outputs = ["last_hidden_state", "hidden_state_K", "cls", "mean_pooled", "pooler_output"]
        if hasPatchTokens { outputs += ["patch_tokens", "hidden_state_K_patches"] }
        return outputs.joined(separator: ", ")
    }

    /// Loads an image encoder of this family from a checkpoint.
    public func imageEncoder(checkpoint: URL) throws -> any ImageEncoder {
        guard let loadImage else { throw ModelError.unknownModel(name: name, known: ModelRegistry.names(for: .image)) }
        return try loadImage(checkpoint)
    }

    /// Loads a text encoder of this family from a checkpoint.
    public func textEncoder(checkpoint: URL) throws -> any TextEncoder {
        guard let loadText else { throw ModelError.unknownModel(name: name, known: ModelRegistry.names(for: .text)) }
        return try loadText(checkpoint)
    }
}

extension ModelFamily {
    /// A torchvision ResNet layout (`resnet18` ... `resnet152`); checkpoints of another layout are refused.
    static func resnet(_ name: String, _ layout: ResNet.Layout) -> ModelFamily {
        ModelFamily(
            name: name, architecture: "resnet", modality: .image,
            featureMaps: zip(ResNet.stageNames, [4, 8, 16, 32]).map { FeatureMap(name: $0, stride: $1) },
            vectors: ["avgpool", "fc"], hasPatchTokens: false, usesConfig: false,
            loadImage: { try ResNet(checkpoint: $0, expected: name) }, loadText: nil,
            seededWeights: { _, seed in try SeededWeights.resnet(layout, seed: seed) }, seededConfig: { _ in nil })
    }

    /// EfficientNet-Lite of one size (`efficientnet_lite0` ... `efficientnet_lite4`, TensorFlow SAME padding,
    /// batch norms folded); a checkpoint of another size is refused.
    static func efficientNetLite(_ config: EfficientNetLite.Config) -> ModelFamily {
        ModelFamily(
            name: config.name, architecture: "efficientnet_lite", modality: .image,
            featureMaps: EfficientNetLite.mapLevels.compactMap { name in
                EfficientNetLite.strides[name].map { FeatureMap(name: name, stride: $0) }
            },
            vectors: ["avgpool", "fc"], hasPatchTokens: false, usesConfig: false,
            loadImage: { try EfficientNetLite(checkpoint: $0, config: config) }, loadText: nil,
            seededWeights: { _, seed in try SeededWeights.efficientNetLite(config, seed: seed) }, seededConfig: { _ in nil })
    }

    /// Hugging Face `ViTModel` of any size, patch and image size (from `config.json`).
    static let vit = ModelFamily(
        name: "vit", architecture: "vit", modality: .image, featureMaps: [], vectors: [], hasPatchTokens: true,
        usesConfig: true, loadImage: { try ViT(folder: $0) }, loadText: nil,
        seededWeights: { try SeededWeights.vit($0, seed: $1) }, seededConfig: { $0.vitConfig })

    /// Hugging Face `BertModel` of any size (from `config.json`).
    static let bert = ModelFamily(
        name: "bert", architecture: "bert", modality: .text, featureMaps: [], vectors: [], hasPatchTokens: false,
        usesConfig: true, loadImage: nil, loadText: { try BERT(folder: $0) },
        seededWeights: { try SeededWeights.bert($0, seed: $1) }, seededConfig: { $0.bertConfig })
}

/// The model families Strata runs; adding a family is adding an entry here (and its encoder file).
public enum ModelRegistry {
    /// Every family, image families first.
    public static let families: [ModelFamily] =
        ResNet.layouts.map { ModelFamily.resnet($0.name, $0.layout) }
        + EfficientNetLite.Config.variants.map(ModelFamily.efficientNetLite) + [.vit, .bert]

    /// Every family name.
    public static var names: [String] { families.map(\.name) }

    /// The names of the families of one modality.
    public static func names(for modality: ModelFamily.Modality) -> [String] {
        families.filter { $0.modality == modality }.map(\.name)
    }

    /// The family named `name` (case-insensitive; `-` reads as `_`).
    public static func family(named name: String) -> ModelFamily? {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "_")
        return families.first { $0.name == key }
    }
}
