import Foundation
import StrataTensor

/// Seeded random checkpoints under the published tensor names (torchvision ResNet-50, Hugging Face
/// `BertModel` and `ViTModel`), streamed to disk tensor by tensor so full-size models cost no more
/// memory than their largest tensor. For shape tests and benchmarks: the values mean nothing.
public enum SyntheticCheckpoint {
    /// How a tensor is filled.
    public enum Fill: Sendable {
        /// Uniform with mean 0 and this standard deviation.
        case random(std: Float)
        /// Every element this value.
        case constant(Float)
    }

    /// One tensor to generate.
    public struct Spec: Sendable {
        public var name: String
        public var shape: [Int]
        public var fill: Fill
    }

    /// Transformer sizes (BERT-base / ViT-B/16 by default).
    public struct Sizes: Sendable {
        public var hidden = 768, layers = 12, heads = 12, intermediate = 3072
        public var vocabulary = 30522, positions = 512, tokenTypes = 2
        public var imageSize = 224, patchSize = 16

        public init(hidden: Int = 768, layers: Int = 12, heads: Int = 12, intermediate: Int = 3072) {
            self.hidden = hidden
            self.layers = layers
            self.heads = heads
            self.intermediate = intermediate
        }

        /// Hugging Face `config.json` of a `BertModel` of these sizes.
        public var bertConfig: [String: Any] {
            ["architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden, "num_hidden_layers": layers,
             "num_attention_heads": heads, "intermediate_size": intermediate, "vocab_size": vocabulary,
             "max_position_embeddings": positions, "type_vocab_size": tokenTypes, "hidden_act": "gelu",
             "layer_norm_eps": 1e-12]
        }

        /// Hugging Face `config.json` of a `ViTModel` of these sizes.
        public var vitConfig: [String: Any] {
            ["architectures": ["ViTModel"], "model_type": "vit", "hidden_size": hidden, "num_hidden_layers": layers,
             "num_attention_heads": heads, "intermediate_size": intermediate, "image_size": imageSize,
             "patch_size": patchSize, "num_channels": 3, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "qkv_bias": true]
        }
    }

    static func linear(_ name: String, out: Int, in inFeatures: Int, std: Float = 0.02) -> [Spec] {
        [Spec(name: name + ".weight", shape: [out, inFeatures], fill: .random(std: std)),
         Spec(name: name + ".bias", shape: [out], fill: .random(std: 0.02))]
    }

    static func layerNorm(_ name: String, _ width: Int) -> [Spec] {
        [Spec(name: name + ".weight", shape: [width], fill: .constant(1)),
         Spec(name: name + ".bias", shape: [width], fill: .constant(0))]
    }

    /// torchvision `resnet50()` names: Kaiming (fan-out) convolutions, identity batch norms.
    public static func resnet50() -> [Spec] {
        var specs: [Spec] = []
        func conv(_ name: String, out: Int, in inChannels: Int, kernel: Int) {
            let std = (2 / Float(out * kernel * kernel)).squareRoot()
            specs.append(Spec(name: name + ".weight", shape: [out, inChannels, kernel, kernel], fill: .random(std: std)))
        }
        func batchNorm(_ name: String, _ channels: Int, gamma: Float = 1) {
            specs += [Spec(name: name + ".weight", shape: [channels], fill: .constant(gamma)),
                      Spec(name: name + ".bias", shape: [channels], fill: .constant(0)),
                      Spec(name: name + ".running_mean", shape: [channels], fill: .constant(0)),
                      Spec(name: name + ".running_var", shape: [channels], fill: .constant(1))]
        }
        conv("conv1", out: 64, in: 3, kernel: 7)
        batchNorm("bn1", 64)
        var inChannels = 64
        for (stage, blocks) in [3, 4, 6, 3].enumerated() {
            let planes = 64 << stage
            for block in 0..<blocks {
                let prefix = "layer\(stage + 1).\(block)"
                conv(prefix + ".conv1", out: planes, in: inChannels, kernel: 1)
                batchNorm(prefix + ".bn1", planes)
                conv(prefix + ".conv2", out: planes, in: planes, kernel: 3)
                batchNorm(prefix + ".bn2", planes)
                conv(prefix + ".conv3", out: planes * 4, in: planes, kernel: 1)
                batchNorm(prefix + ".bn3", planes * 4, gamma: 0.2)
                if block == 0 {
                    conv(prefix + ".downsample.0", out: planes * 4, in: inChannels, kernel: 1)
                    batchNorm(prefix + ".downsample.1", planes * 4)
                }
                inChannels = planes * 4
            }
        }
        specs += linear("fc", out: 1000, in: 2048, std: (1 / Float(2048)).squareRoot())
        return specs
    }

    /// Hugging Face `BertModel` names (no `bert.` prefix).
    public static func bert(_ sizes: Sizes) -> [Spec] {
        let h = sizes.hidden
        var specs = [
            Spec(name: "embeddings.word_embeddings.weight", shape: [sizes.vocabulary, h], fill: .random(std: 0.02)),
            Spec(name: "embeddings.position_embeddings.weight", shape: [sizes.positions, h], fill: .random(std: 0.02)),
            Spec(name: "embeddings.token_type_embeddings.weight", shape: [sizes.tokenTypes, h], fill: .random(std: 0.02)),
        ]
        specs += layerNorm("embeddings.LayerNorm", h)
        for layer in 0..<sizes.layers {
            let prefix = "encoder.layer.\(layer)"
            for projection in ["query", "key", "value"] {
                specs += linear("\(prefix).attention.self.\(projection)", out: h, in: h)
            }
            specs += linear("\(prefix).attention.output.dense", out: h, in: h)
            specs += layerNorm("\(prefix).attention.output.LayerNorm", h)
            specs += linear("\(prefix).intermediate.dense", out: sizes.intermediate, in: h)
            specs += linear("\(prefix).output.dense", out: h, in: sizes.intermediate)
            specs += layerNorm("\(prefix).output.LayerNorm", h)
        }
        specs += linear("pooler.dense", out: h, in: h)
        return specs
    }

    /// Hugging Face `ViTModel` names (no `vit.` prefix).
    public static func vit(_ sizes: Sizes) -> [Spec] {
        let h = sizes.hidden
        let patches = (sizes.imageSize / sizes.patchSize) * (sizes.imageSize / sizes.patchSize)
        var specs = [
            Spec(name: "embeddings.cls_token", shape: [1, 1, h], fill: .random(std: 0.02)),
            Spec(name: "embeddings.position_embeddings", shape: [1, patches + 1, h], fill: .random(std: 0.02)),
            Spec(name: "embeddings.patch_embeddings.projection.weight", shape: [h, 3, sizes.patchSize, sizes.patchSize],
                 fill: .random(std: 0.02)),
            Spec(name: "embeddings.patch_embeddings.projection.bias", shape: [h], fill: .constant(0)),
        ]
        for layer in 0..<sizes.layers {
            let prefix = "encoder.layer.\(layer)"
            specs += layerNorm("\(prefix).layernorm_before", h)
            for projection in ["query", "key", "value"] {
                specs += linear("\(prefix).attention.attention.\(projection)", out: h, in: h)
            }
            specs += linear("\(prefix).attention.output.dense", out: h, in: h)
            specs += layerNorm("\(prefix).layernorm_after", h)
            specs += linear("\(prefix).intermediate.dense", out: sizes.intermediate, in: h)
            specs += linear("\(prefix).output.dense", out: h, in: sizes.intermediate)
        }
        specs += layerNorm("layernorm", h)
        specs += linear("pooler.dense", out: h, in: h)
        return specs
    }

    /// Writes `specs` as an F32 safetensors file, generating each tensor as it is written.
    public static func write(_ specs: [Spec], to url: URL, seed: UInt64) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for spec in specs {
            let bytes = Tensor.elementCount(spec.shape) * 4
            header[spec.name] = ["dtype": "F32", "shape": spec.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var prefix = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(json)
        try handle.write(contentsOf: prefix)
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        for spec in specs {
            let count = Tensor.elementCount(spec.shape)
            var values = [Float](repeating: 0, count: count)
            switch spec.fill {
            case let .constant(value):
                for i in 0..<count { values[i] = value }
            case let .random(std):
                let scale = std * Float(3).squareRoot() * 2 / Float(1 << 24)
                for i in 0..<count {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    values[i] = (Float(state >> 40) - Float(1 << 23)) * scale
                }
            }
            try values.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
        }
    }

    /// A Hugging Face model folder (`config.json` + `model.safetensors`).
    public static func writeFolder(_ specs: [Spec], config: [String: Any], at folder: URL, seed: UInt64) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
        try json.write(to: folder.appendingPathComponent("config.json"))
        try write(specs, to: folder.appendingPathComponent("model.safetensors"), seed: seed)
    }
}
