import Foundation
import StrataTensor

/// Deterministic random weights for an encoder that has no checkpoint at hand, under the same tensor
/// names as the published checkpoints (torchvision ResNet-50, Hugging Face ViTModel and BertModel),
/// so they load through the ordinary checkpoint path. Features computed from them carry no meaning:
/// the build and the manifest say so.
public enum SeededWeights {
    /// Changes whenever the weights drawn for a seed (or the way stored copies are laid out) change, so stored
    /// copies of older ones are not reused.
    public static let version = 2

    /// A seeded normal generator (SplitMix64 feeding Box-Muller), identical on every platform.
    struct Generator {
        private var state: UInt64

        init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

        mutating func nextUInt64() -> UInt64 {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// Uniform in (0, 1).
        mutating func nextUnit() -> Double {
            (Double(nextUInt64() >> 11) + 0.5) / Double(1 << 53)
        }

        mutating func normal(count: Int, std: Float) -> [Float] {
            var values = [Float](repeating: 0, count: count)
            var index = 0
            while index < count {
                let radius = (-2 * Foundation.log(nextUnit())).squareRoot()
                let angle = 2 * Double.pi * nextUnit()
                values[index] = Float(radius * cos(angle)) * std
                if index + 1 < count { values[index + 1] = Float(radius * sin(angle)) * std }
                index += 2
            }
            return values
        }
    }

    /// A named tensor list being filled.
    struct Builder {
        var generator: Generator
        var tensors: [(String, Tensor)] = []

        mutating func normal(_ name: String, _ shape: [Int], std: Float) throws {
            tensors.append((name, try Tensor(shape: shape, floats: generator.normal(count: Tensor.elementCount(shape), std: std))))
        }

        mutating func constant(_ name: String, _ shape: [Int], _ value: Float) throws {
            tensors.append((name, try Tensor(shape: shape, floats: [Float](repeating: value, count: Tensor.elementCount(shape)))))
        }

        /// A convolution with Kaiming-normal (fan-out, ReLU) weights, as torchvision initialises ResNets.
        mutating func conv(_ name: String, out: Int, in inChannels: Int, kernel: Int) throws {
            let fanOut = Float(out * kernel * kernel)
            try normal(name + ".weight", [out, inChannels, kernel, kernel], std: (2 / fanOut).squareRoot())
        }

        /// Batch norm in its initial state: γ = 1, β = 0, running mean 0, running variance 1.
        mutating func batchNorm(_ name: String, _ channels: Int) throws {
            try constant(name + ".weight", [channels], 1)
            try constant(name + ".bias", [channels], 0)
            try constant(name + ".running_mean", [channels], 0)
            try constant(name + ".running_var", [channels], 1)
        }

        mutating func linear(_ name: String, out: Int, in inFeatures: Int, std: Float = 0.02) throws {
            try normal(name + ".weight", [out, inFeatures], std: std)
            try constant(name + ".bias", [out], 0)
        }

        mutating func layerNorm(_ name: String, _ width: Int) throws {
            try constant(name + ".weight", [width], 1)
            try constant(name + ".bias", [width], 0)
        }
    }

    /// torchvision `resnet50()` state_dict names and shapes (without `num_batches_tracked`).
    public static func resnet50(seed: UInt64) throws -> [(String, Tensor)] {
        try resnet(ResNet.Layout(kind: .bottleneck, blocks: [3, 4, 6, 3]), seed: seed)
    }

    /// torchvision ResNet state_dict names and shapes of `layout` (without `num_batches_tracked`):
    /// Kaiming fan-out convolutions, batch norms in their initial state.
    public static func resnet(_ layout: ResNet.Layout, seed: UInt64) throws -> [(String, Tensor)] {
        var builder = Builder(generator: Generator(seed: seed))
        let expansion = layout.kind == .bottleneck ? 4 : 1
        try builder.conv("conv1", out: 64, in: 3, kernel: 7)
        try builder.batchNorm("bn1", 64)
        var inChannels = 64
        for (stage, (planes, blocks)) in zip([64, 128, 256, 512], layout.blocks).enumerated() {
            for block in 0..<blocks {
                let prefix = "layer\(stage + 1).\(block)"
                switch layout.kind {
                case .bottleneck:
                    try builder.conv(prefix + ".conv1", out: planes, in: inChannels, kernel: 1)
                    try builder.batchNorm(prefix + ".bn1", planes)
                    try builder.conv(prefix + ".conv2", out: planes, in: planes, kernel: 3)
                    try builder.batchNorm(prefix + ".bn2", planes)
                    try builder.conv(prefix + ".conv3", out: planes * 4, in: planes, kernel: 1)
                    try builder.batchNorm(prefix + ".bn3", planes * 4)
                case .basic:
                    try builder.conv(prefix + ".conv1", out: planes, in: inChannels, kernel: 3)
                    try builder.batchNorm(prefix + ".bn1", planes)
                    try builder.conv(prefix + ".conv2", out: planes, in: planes, kernel: 3)
                    try builder.batchNorm(prefix + ".bn2", planes)
                }
                let stride = stage > 0 && block == 0 ? 2 : 1
                if block == 0, stride != 1 || inChannels != planes * expansion {
                    try builder.conv(prefix + ".downsample.0", out: planes * expansion, in: inChannels, kernel: 1)
                    try builder.batchNorm(prefix + ".downsample.1", planes * expansion)
                }
                inChannels = planes * expansion
            }
        }
        let features = 512 * expansion
        try builder.linear("fc", out: 1000, in: features, std: (1 / Float(features)).squareRoot())
        return builder.tensors
    }

    /// Sizes of a seeded transformer, read from a Hugging Face style config dictionary.
    public struct TransformerSizes: Sendable, Equatable {
        public var hidden: Int
        public var layers: Int
        public var heads: Int
        public var intermediate: Int
        public var vocabulary: Int
        public var positions: Int
        public var tokenTypes: Int
        public var imageSize: Int
        public var patchSize: Int

        /// Reads the usual config keys, with BERT-base / ViT-B/16 defaults for what is absent.
        public init(config: [String: Any]) {
            func int(_ key: String, _ fallback: Int) -> Int { (config[key] as? NSNumber)?.intValue ?? (config[key] as? Int) ?? fallback }
            hidden = int("hidden_size", 768)
            layers = int("num_hidden_layers", 12)
            heads = int("num_attention_heads", 12)
            intermediate = int("intermediate_size", 4 * hidden)
            vocabulary = int("vocab_size", 30522)
            positions = int("max_position_embeddings", 512)
            tokenTypes = int("type_vocab_size", 2)
            imageSize = int("image_size", 224)
            patchSize = int("patch_size", 16)
        }

        /// The Hugging Face `config.json` of a BERT model of these sizes.
        public var bertConfig: [String: Any] {
            ["architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden, "num_hidden_layers": layers,
             "num_attention_heads": heads, "intermediate_size": intermediate, "vocab_size": vocabulary,
             "max_position_embeddings": positions, "type_vocab_size": tokenTypes, "hidden_act": "gelu",
             "layer_norm_eps": 1e-12]
        }

        /// The Hugging Face `config.json` of a ViT model of these sizes.
        public var vitConfig: [String: Any] {
            ["architectures": ["ViTModel"], "model_type": "vit", "hidden_size": hidden, "num_hidden_layers": layers,
             "num_attention_heads": heads, "intermediate_size": intermediate, "image_size": imageSize,
             "patch_size": patchSize, "num_channels": 3, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "qkv_bias": true]
        }
    }

    /// Hugging Face `BertModel` names (no `bert.` prefix), initialised as BERT is: N(0, 0.02).
    public static func bert(_ sizes: TransformerSizes, seed: UInt64) throws -> [(String, Tensor)] {
        var builder = Builder(generator: Generator(seed: seed))
        let h = sizes.hidden
        try builder.normal("embeddings.word_embeddings.weight", [sizes.vocabulary, h], std: 0.02)
        try builder.normal("embeddings.position_embeddings.weight", [sizes.positions, h], std: 0.02)
        try builder.normal("embeddings.token_type_embeddings.weight", [sizes.tokenTypes, h], std: 0.02)
        try builder.layerNorm("embeddings.LayerNorm", h)
        for layer in 0..<sizes.layers {
            let prefix = "encoder.layer.\(layer)"
            for projection in ["query", "key", "value"] {
                try builder.linear("\(prefix).attention.self.\(projection)", out: h, in: h)
            }
            try builder.linear("\(prefix).attention.output.dense", out: h, in: h)
            try builder.layerNorm("\(prefix).attention.output.LayerNorm", h)
            try builder.linear("\(prefix).intermediate.dense", out: sizes.intermediate, in: h)
            try builder.linear("\(prefix).output.dense", out: h, in: sizes.intermediate)
            try builder.layerNorm("\(prefix).output.LayerNorm", h)
        }
        try builder.linear("pooler.dense", out: h, in: h)
        return builder.tensors
    }

    /// Hugging Face `ViTModel` names (no `vit.` prefix), initialised with N(0, 0.02).
    public static func vit(_ sizes: TransformerSizes, seed: UInt64) throws -> [(String, Tensor)] {
        var builder = Builder(generator: Generator(seed: seed))
        let h = sizes.hidden
        let patches = (sizes.imageSize / sizes.patchSize) * (sizes.imageSize / sizes.patchSize)
        try builder.normal("embeddings.cls_token", [1, 1, h], std: 0.02)
        try builder.normal("embeddings.position_embeddings", [1, patches + 1, h], std: 0.02)
        try builder.normal("embeddings.patch_embeddings.projection.weight", [h, 3, sizes.patchSize, sizes.patchSize], std: 0.02)
        try builder.constant("embeddings.patch_embeddings.projection.bias", [h], 0)
        for layer in 0..<sizes.layers {
            let prefix = "encoder.layer.\(layer)"
            try builder.layerNorm("\(prefix).layernorm_before", h)
            for projection in ["query", "key", "value"] {
                try builder.linear("\(prefix).attention.attention.\(projection)", out: h, in: h)
            }
            try builder.linear("\(prefix).attention.output.dense", out: h, in: h)
            try builder.layerNorm("\(prefix).layernorm_after", h)
            try builder.linear("\(prefix).intermediate.dense", out: sizes.intermediate, in: h)
            try builder.linear("\(prefix).output.dense", out: h, in: sizes.intermediate)
        }
        try builder.layerNorm("layernorm", h)
        try builder.linear("pooler.dense", out: h, in: h)
        return builder.tensors
    }

    /// Writes the seeded weights of the family `model` (`resnet18`...`resnet152`, `vit`, `bert`) into
    /// `folder`: `model.safetensors`, plus the `config.json` of `sizes` for a transformer. Returns what
    /// `EncoderLoader` loads: the weights file for a ResNet, the folder otherwise.
    @discardableResult
    public static func writeCheckpoint(model: String, sizes: TransformerSizes, seed: UInt64, into folder: URL) throws -> URL {
        guard let family = ModelRegistry.family(named: model) else {
            throw ModelError.unknownModel(name: model, known: ModelRegistry.names)
        }
        let tensors = try family.seededWeights(sizes, seed)
        let config = family.seededConfig(sizes)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let weights = folder.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write(tensors, to: weights)
        guard let config else { return weights }
        let json = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
        try json.write(to: folder.appendingPathComponent("config.json"))
        return folder
    }
}
