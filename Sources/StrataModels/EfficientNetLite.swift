import Foundation
import StrataTensor

/// EfficientNet-Lite (Lite0...Lite4, or any width and depth multipliers) from a state dict in the
/// `efficientnet_lite_pytorch` layout (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, `._depthwise_conv`,
/// `._project_conv`, `_conv_head`, `_bn1`, `_fc`), every batch norm (eps 1e-3) folded into its
/// convolution when loaded.
///
/// Lite differs from EfficientNet-B by ReLU6 instead of swish, no squeeze-excitation, and a stem (32
/// channels) and head (1280 channels) that the width multiplier leaves alone. Convolutions use
/// TensorFlow's "SAME" padding computed for each input size, so any image size (square or not) gives
/// what the reference implementation gives. Inputs are RGB scaled to [-1, 1] (mean 0.5, std 0.5).
///
/// Levels: `stage2`...`stage5` (the outputs of the block stages at strides 4, 8, 16 and 32, e.g. 24, 40,
/// 112 and 320 channels for Lite0, optionally `:poolHxW` or `:mean`), `head` (after `_conv_head`, batch
/// norm and ReLU6: 1280 channels at stride 32, likewise poolable), `avgpool` (`[N, 1280]`) and `fc`
/// (logits, when the checkpoint has `_fc.weight`).
public final class EfficientNetLite: ImageEncoder {
    /// The scaling of one EfficientNet-Lite model.
    public struct Config: Sendable, Equatable {
        /// The family name, e.g. `efficientnet_lite0`.
        public var name: String
        /// Channel multiplier of the blocks (stem and head stay 32 and 1280).
        public var widthMultiplier: Double
        /// Repeat multiplier of the blocks (the first and last stages keep one block).
        public var depthMultiplier: Double
        /// The image size the model was trained at (a recommendation: any size runs).
        public var resolution: Int

        /// A configuration from its multipliers.
        public init(name: String, widthMultiplier: Double, depthMultiplier: Double, resolution: Int) {
            self.name = name
            self.widthMultiplier = widthMultiplier
            self.depthMultiplier = depthMultiplier
            self.resolution = resolution
        }

        /// Lite0...Lite4 as published (`efficientnet_lite_builder.py`).
        public static let variants: [Config] = [
            Config(name: "efficientnet_lite0", widthMultiplier: 1.0, depthMultiplier: 1.0, resolution: 224),
            Config(name: "efficientnet_lite1", widthMultiplier: 1.0, depthMultiplier: 1.1, resolution: 240),
            Config(name: "efficientnet_lite2", widthMultiplier: 1.1, depthMultiplier: 1.2, resolution: 260),
            Config(name: "efficientnet_lite3", widthMultiplier: 1.2, depthMultiplier: 1.4, resolution: 280),
            Config(name: "efficientnet_lite4", widthMultiplier: 1.4, depthMultiplier: 1.8, resolution: 300),
        ]

        /// EfficientNet-Lite0 (224 px).
        public static let lite0 = variants[0]

        /// The variant called `name` (`efficientnet_lite0` or `efficientnet-lite0`, any case).
        public static func named(_ name: String) -> Config? {
            let key = name.lowercased().replacingOccurrences(of: "-", with: "_")
            return variants.first { $0.name == key }
        }

        /// Channels scaled by the width multiplier, rounded to a multiple of 8 (never down by more than 10%).
        func filters(_ base: Int) -> Int {
            let scaled = Double(base) * widthMultiplier
            var rounded = max(8, Int(scaled + 4) / 8 * 8)
            if Double(rounded) < 0.9 * scaled { rounded += 8 }
            return rounded
        }

        /// Block repeats scaled by the depth multiplier (rounded up).
        func repeats(_ base: Int) -> Int { Int((depthMultiplier * Double(base)).rounded(.up)) }

        /// The blocks in order, with the stage each one ends (nil inside a stage).
        func blocks() -> [BlockShape] {
            var blocks: [BlockShape] = []
            for (index, stage) in EfficientNetLite.stages.enumerated() {
                let isEnd = index == 0 || index == EfficientNetLite.stages.count - 1
                let count = isEnd ? stage.repeats : repeats(stage.repeats)
                let output = filters(stage.output)
                var input = index == 0 ? 32 : filters(stage.input)
                for block in 0..<count {
                    blocks.append(BlockShape(input: input, output: output, expand: stage.expand, kernel: stage.kernel,
                                             stride: block == 0 ? stage.stride : 1))
                    input = output
                }
                if let level = stage.level { blocks[blocks.count - 1].endsLevel = level }
            }
            return blocks
        }
    }

    /// One stage of the base (Lite0) network.
    struct StageShape {
        let repeats, kernel, stride, expand, input, output: Int
        /// The level its output is, if any.
        let level: String?
    }

    /// The seven stages of the base network (`r1_k3_s11_e1_i32_o16` ... `r1_k3_s11_e6_i192_o320`); the
    /// stride-4, 8, 16 and 32 outputs are the levels `stage2`...`stage5`.
    static let stages = [
        StageShape(repeats: 1, kernel: 3, stride: 1, expand: 1, input: 32, output: 16, level: nil),
        StageShape(repeats: 2, kernel: 3, stride: 2, expand: 6, input: 16, output: 24, level: "stage2"),
        StageShape(repeats: 2, kernel: 5, stride: 2, expand: 6, input: 24, output: 40, level: "stage3"),
        StageShape(repeats: 3, kernel: 3, stride: 2, expand: 6, input: 40, output: 80, level: nil),
        StageShape(repeats: 3, kernel: 5, stride: 1, expand: 6, input: 80, output: 112, level: "stage4"),
        StageShape(repeats: 4, kernel: 5, stride: 2, expand: 6, input: 112, output: 192, level: nil),
        StageShape(repeats: 1, kernel: 3, stride: 1, expand: 6, input: 192, output: 320, level: "stage5"),
    ]

    /// The map levels in depth order (each poolable), and their strides in input pixels.
    public static let mapLevels = ["stage2", "stage3", "stage4", "stage5", "head"]
    /// The stride of each map level in input pixels.
    public static let strides = ["stage2": 4, "stage3": 8, "stage4": 16, "stage5": 32, "head": 32]
    /// Channels of `_conv_head` (not scaled).
    static let headChannels = 1280
    /// The batch norms' epsilon.
    static let batchNormEps: Float = 1e-3

    /// The sizes of one inverted-bottleneck block.
    struct BlockShape {
        let input, output, expand, kernel, stride: Int
        var endsLevel: String?
        var hidden: Int { input * expand }
        var hasSkip: Bool { stride == 1 && input == output }
    }

    /// A convolution with its batch norm folded in.
    struct FoldedConv {
        let weight: Tensor
        let bias: Tensor
        let kernel: Int
        let stride: Int
        /// The weight packed for the gemm kernels once (nil for depthwise filters, or when OpenBLAS runs).
        let packed: PackedMatrix?
    }

    /// One inverted-bottleneck block: optional 1x1 expansion, depthwise convolution, 1x1 projection.
    struct Block {
        let shape: BlockShape
        let expand: FoldedConv?
        let depthwise: FoldedConv
        let project: FoldedConv
    }

    /// Activation buffers reused from call to call.
    final class Buffers: SplitBuffers {
        var x = Tensor(zeros: [0])
        var y = Tensor(zeros: [0])
        var expanded = Tensor(zeros: [0])
        var filtered = Tensor(zeros: [0])
        var head = Tensor(zeros: [0])
        var pooled = Tensor(zeros: [0])
        var input = Tensor(zeros: [0])
        let workspace = Workspace()
    }

    public let architecture = "efficientnet_lite"
    /// The configuration the weights were loaded for.
    public let config: Config
    let stem: FoldedConv
    let blocks: [Block]
    let head: FoldedConv
    let fcWeight: Tensor?
    let fcBias: Tensor?
    private var workerBuffers = [Buffers()]

    /// Loads `config`'s model from the weights at `url`: a `torch.save` state dict (`.pth`), a safetensors
    /// file, or a folder holding one.
    public convenience init(checkpoint url: URL, config: Config) throws {
        try self.init(source: Checkpoint.open(url), config: config)
    }

    /// Loads the weights from an open checkpoint; names may carry a prefix such as `module.`.
    init(source: any TensorSource, config: Config) throws {
        let prefix = try Checkpoint.detectPrefix(source, probe: "_conv_stem.weight", candidates: ["", "module.", "model."])
        let checkpoint = Checkpoint(source: source, prefix: prefix)
        self.config = config
        stem = try EfficientNetLite.fold(checkpoint, conv: "_conv_stem", bn: "_bn0", out: 32, in: 3, kernel: 3, stride: 2,
                                         depthwise: false)
        var blocks: [Block] = []
        let shapes = config.blocks()
        for (index, shape) in shapes.enumerated() {
            let name = "_blocks.\(index)."
            var expand: FoldedConv?
            if shape.expand != 1 {
                expand = try EfficientNetLite.fold(checkpoint, conv: name + "_expand_conv", bn: name + "_bn0",
                                                   out: shape.hidden, in: shape.input, kernel: 1, stride: 1, depthwise: false)
            }
            let depthwise = try EfficientNetLite.fold(checkpoint, conv: name + "_depthwise_conv", bn: name + "_bn1",
                                                      out: shape.hidden, in: 1, kernel: shape.kernel, stride: shape.stride, depthwise: true)
            let project = try EfficientNetLite.fold(checkpoint, conv: name + "_project_conv", bn: name + "_bn2",
                                                    out: shape.output, in: shape.hidden, kernel: 1, stride: 1, depthwise: false)
            blocks.append(Block(shape: shape, expand: expand, depthwise: depthwise, project: project))
        }
        if checkpoint.contains("_blocks.\(shapes.count)._project_conv.weight") {
            throw ModelError.badConfig(file: source.path, key: config.name,
                                       reason: "the checkpoint has more than the \(shapes.count) blocks this configuration has (another EfficientNet-Lite size?)")
        }
        self.blocks = blocks
        let last = shapes.last?.output ?? 320
        head = try EfficientNetLite.fold(checkpoint, conv: "_conv_head", bn: "_bn1", out: EfficientNetLite.headChannels,
                                         in: last, kernel: 1, stride: 1, depthwise: false)
        if checkpoint.contains("_fc.weight") {
            let shape = try checkpoint.shape("_fc.weight")
            guard shape.count == 2, shape[1] == EfficientNetLite.headChannels else {
                throw ModelError.shapeMismatch(file: source.path, tensor: prefix + "_fc.weight",
                                               expected: [shape.first ?? 1000, EfficientNetLite.headChannels], actual: shape)
            }
            fcWeight = try checkpoint.float("_fc.weight", shape)
            fcBias = try checkpoint.float("_fc.bias", [shape[0]])
        } else {
            fcWeight = nil
            fcBias = nil
        }
    }

    /// A convolution (`in` is 1 for a depthwise one) and the batch norm after it, folded; dense weights
    /// are packed for the gemm once.
    static func fold(_ checkpoint: Checkpoint, conv: String, bn: String, out: Int, in inChannels: Int,
                     kernel: Int, stride: Int, depthwise: Bool) throws -> FoldedConv {
        let folded = try CheckpointBatchNorm.fold(checkpoint, conv: conv, bn: bn, out: out, in: inChannels, kernel: kernel,
                                               eps: batchNormEps, architecture: "efficientnet_lite")
        do {
            let packed = depthwise ? nil : try PackedMatrix.pack(folded.weight, side: .left)
            return FoldedConv(weight: folded.weight, bias: folded.bias, kernel: kernel, stride: stride, packed: packed)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: "efficientnet_lite", reason: "packing \(conv): \(error)")
        }
    }

    /// Outputs this encoder can produce.
    public var outputs: [String] { MapLevels.outputs(maps: EfficientNetLite.mapLevels, hasClassifier: fcWeight != nil) }

    public func validate(levels: [PyramidLevel]) throws {
        try MapLevels.validate(levels, architecture: architecture, outputs: outputs, maps: EfficientNetLite.mapLevels)
    }

    public func encode(pixels: Tensor, levels: [PyramidLevel]) throws -> [Tensor] {
        try MapLevels.encode(pixels, levels: levels, architecture: architecture, outputs: outputs, maps: EfficientNetLite.mapLevels,
                             buffers: &workerBuffers) { part, buffers in
            try self.run(part, levels: levels, buffers: buffers)
        }
    }

    private func run(_ pixels: Tensor, levels: [PyramidLevel], buffers b: Buffers) throws -> [Tensor] {
        let needsHead = levels.contains { $0.output == "head" || $0.output == "avgpool" || $0.output == "fc" }
        // The last block to run: the whole network for the head's levels, else the block ending the deepest stage asked.
        let deepestStage = levels.compactMap { EfficientNetLite.mapLevels.firstIndex(of: $0.output) }.max()
        let lastBlock = needsHead ? blocks.count - 1
            : deepestStage.flatMap { stage in blocks.lastIndex { $0.shape.endsLevel == EfficientNetLite.mapLevels[stage] } } ?? -1
        var results = [Tensor?](repeating: nil, count: levels.count)
        try conv(stem, pixels, into: &b.x, activation: .relu6, b)
        if lastBlock >= 0 {
            for block in blocks[0...lastBlock] {
                try forward(block, b)
                if let name = block.shape.endsLevel {
                    for (index, level) in levels.enumerated() where level.output == name {
                        results[index] = try MapLevels.reduce(b.x, level)
                    }
                }
            }
        }
        if needsHead {
            try conv(head, b.x, into: &b.head, activation: .relu6, b)
            try Kernels.globalAvgPool2d(b.head, into: &b.pooled)
            for (index, level) in levels.enumerated() {
                switch level.output {
                case "head": results[index] = try MapLevels.reduce(b.head, level)
                case "avgpool": results[index] = BatchSplit.copy(b.pooled)
                case "fc":
                    if let fcWeight { results[index] = try Kernels.linear(b.pooled, weight: fcWeight, bias: fcBias) }
                default: break
                }
            }
        }
        return results.map { $0 ?? Tensor(zeros: [0]) }
    }

    /// One block from `buffers.x` back into `buffers.x`.
    private func forward(_ block: Block, _ b: Buffers) throws {
        if let expand = block.expand {
            try conv(expand, b.x, into: &b.expanded, activation: .relu6, b)
            try depthwise(block.depthwise, b.expanded, into: &b.filtered)
        } else {
            try depthwise(block.depthwise, b.x, into: &b.filtered)
        }
        try conv(block.project, b.filtered, into: &b.y, activation: .none, b)
        if block.shape.hasSkip { try Kernels.addInPlace(&b.y, b.x) }
        swap(&b.x, &b.y)
    }

    private func conv(_ layer: FoldedConv, _ input: Tensor, into out: inout Tensor, activation: Activation,
                      _ b: Buffers) throws {
        let padding = Padding2D.same(input: Size2D(input.shape[2], input.shape[3]), kernel: Size2D(layer.kernel, layer.kernel),
                                     stride: Size2D(layer.stride, layer.stride))
        try Kernels.conv2d(input, weight: layer.weight, bias: layer.bias, stride: Size2D(layer.stride, layer.stride),
                           padding: padding, activation: activation, packedWeight: layer.packed, into: &out,
                           workspace: b.workspace)
    }

    private func depthwise(_ layer: FoldedConv, _ input: Tensor, into out: inout Tensor) throws {
        let padding = Padding2D.same(input: Size2D(input.shape[2], input.shape[3]), kernel: Size2D(layer.kernel, layer.kernel),
                                     stride: Size2D(layer.stride, layer.stride))
        try Kernels.depthwiseConv2d(input, weight: layer.weight, bias: layer.bias, stride: Size2D(layer.stride, layer.stride),
                                    padding: padding, activation: .relu6, into: &out)
    }
}

extension SeededWeights {
    /// `efficientnet_lite_pytorch` state dict names and shapes of `config` (without `num_batches_tracked`).
    static func efficientNetLite(_ config: EfficientNetLite.Config, seed: UInt64) throws -> [(String, Tensor)] {
        var builder = Builder(generator: Generator(seed: seed))
        try builder.conv("_conv_stem", out: 32, in: 3, kernel: 3)
        try builder.batchNorm("_bn0", 32)
        let blocks = config.blocks()
        for (index, block) in blocks.enumerated() {
            let name = "_blocks.\(index)."
            if block.expand != 1 {
                try builder.conv(name + "_expand_conv", out: block.hidden, in: block.input, kernel: 1)
                try builder.batchNorm(name + "_bn0", block.hidden)
            }
            try builder.conv(name + "_depthwise_conv", out: block.hidden, in: 1, kernel: block.kernel)
            try builder.batchNorm(name + "_bn1", block.hidden)
            try builder.conv(name + "_project_conv", out: block.output, in: block.hidden, kernel: 1)
            try builder.batchNorm(name + "_bn2", block.output)
        }
        try builder.conv("_conv_head", out: EfficientNetLite.headChannels, in: blocks.last?.output ?? 320, kernel: 1)
        try builder.batchNorm("_bn1", EfficientNetLite.headChannels)
        try builder.linear("_fc", out: 1000, in: EfficientNetLite.headChannels, std: (1 / Float(EfficientNetLite.headChannels)).squareRoot())
        return builder.tensors
    }
}
