import Foundation
import StrataTensor

/// A ResNet (torchvision v1.5: stride on the 3x3 convolution) from a torchvision or timm state_dict, its
/// layout read from the checkpoint: basic blocks (ResNet-18/34) or bottlenecks (ResNet-50/101/152), the
/// block count of each stage and every width; every batch norm folded into the convolution before it
/// when loaded.
///
/// Levels: `layer1`...`layer4` (C2..C5, `[N, C, H/4...H/32, W/4...W/32]`, optionally `:poolHxW` or
/// `:mean`), `avgpool` (`[N, C5]`) and `fc` (logits, when the checkpoint has `fc.weight`).
public final class ResNet: ImageEncoder {
    /// A convolution with its batch norm folded in.
    struct FoldedConv {
        let weight: Tensor
        let bias: Tensor
        let stride: Int
        let padding: Int
        /// The weight packed for the gemm kernels once (nil when OpenBLAS runs the products).
        let packed: PackedMatrix?

        init(weight: Tensor, bias: Tensor, stride: Int, padding: Int) throws {
            self.weight = weight
            self.bias = bias
            self.stride = stride
            self.padding = padding
            packed = try PackedMatrix.pack(weight, side: .left)
        }
    }

    /// The residual block of a layout.
    public enum BlockKind: String, Sendable {
        /// Two 3x3 convolutions (ResNet-18, ResNet-34).
        case basic
        /// 1x1, 3x3 (strided), 1x1 with 4x expansion (ResNet-50, 101, 152).
        case bottleneck
    }

    /// A layout: block kind and block counts of the four stages.
    public struct Layout: Sendable, Equatable, CustomStringConvertible {
        public let kind: BlockKind
        public let blocks: [Int]

        public var description: String { "\(kind.rawValue) blocks \(blocks)" }
    }

    /// torchvision's named layouts.
    public static let layouts: [(name: String, layout: Layout)] = [
        ("resnet18", Layout(kind: .basic, blocks: [2, 2, 2, 2])),
        ("resnet34", Layout(kind: .basic, blocks: [3, 4, 6, 3])),
        ("resnet50", Layout(kind: .bottleneck, blocks: [3, 4, 6, 3])),
        ("resnet101", Layout(kind: .bottleneck, blocks: [3, 4, 23, 3])),
        ("resnet152", Layout(kind: .bottleneck, blocks: [3, 8, 36, 3])),
    ]

    /// The layout of a named ResNet (`resnet18` ... `resnet152`).
    public static func layout(named name: String) -> Layout? { layouts.first { $0.name == name }?.layout }

    /// One residual block: `conv3` only in bottlenecks.
    struct Block {
        let conv1, conv2: FoldedConv
        let conv3: FoldedConv?
        let downsample: FoldedConv?
    }

    /// Activation buffers reused from call to call.
    final class Buffers: SplitBuffers {
        var x = Tensor(zeros: [0])
        var y = Tensor(zeros: [0])
        var a = Tensor(zeros: [0])
        var b = Tensor(zeros: [0])
        var identity = Tensor(zeros: [0])
        var pooled = Tensor(zeros: [0])
        /// This worker's share of the batch, when the batch is split.
        var input = Tensor(zeros: [0])
        let workspace = Workspace()
        init() {}
    }

    /// The layout's name (`resnet50`), or `resnet` for a layout torchvision does not name.
    public let architecture: String
    /// The layout read from the checkpoint.
    public let layout: Layout
    /// Output names in depth order.
    static let stageNames = ["layer1", "layer2", "layer3", "layer4"]

    let stem: FoldedConv
    let stages: [[Block]]
    let fcWeight: Tensor?
    let fcBias: Tensor?
    /// Channels of `layer4` (the `avgpool` width).
    public let features: Int
    /// Buffers of worker 0 (the whole batch when it is not split).
    var buffers: Buffers { workerBuffers[0] }
    /// One set of buffers per worker.
    private var workerBuffers = [Buffers()]

    /// Loads the weights at `url`: a `.safetensors` file, a `torch.save` file (`.pth`, `.pt`, `.bin`), a
    /// sharded index, or a folder holding one of them. With `expected` (e.g. `resnet101`), the checkpoint
    /// must have that layout.
    public convenience init(checkpoint url: URL, expected: String? = nil) throws {
        try self.init(source: Checkpoint.open(url), expected: expected)
    }

    /// Loads the weights from an open checkpoint; names may carry a prefix such as `module.` or `model.`.
    init(source: any TensorSource, expected: String? = nil) throws {
        let prefix = try ResNet.prefix(of: source)
        let checkpoint = Checkpoint(source: source, prefix: prefix)
        let kind: BlockKind = checkpoint.contains("layer1.0.conv3.weight") ? .bottleneck : .basic
        let blocks = (1...4).map { stage in
            (0...).prefix { checkpoint.contains("layer\(stage).\($0).conv1.weight") }.count
        }
        if let empty = blocks.firstIndex(of: 0) {
            throw ModelError.missingTensor(file: source.path, tensor: prefix + "layer\(empty + 1).0.conv1.weight")
        }
        let found = Layout(kind: kind, blocks: blocks)
        layout = found
        let named = ResNet.layouts.first { $0.layout == found }?.name
        if let expected, named != expected {
            let wanted = ResNet.layout(named: expected).map { " (\($0))" } ?? ""
            throw ModelError.badConfig(file: source.path, key: "layout",
                                       reason: "the checkpoint has \(named ?? "a ResNet") layout (\(found)), not \(expected)'s\(wanted)")
        }
        architecture = named ?? "resnet"
        let width = try checkpoint.shape("conv1.weight").first ?? 0
        stem = try ResNet.fold(checkpoint, conv: "conv1", bn: "bn1", out: width, in: 3, kernel: 7, stride: 2)
        var stages: [[Block]] = []
        var inChannels = width
        for (stage, count) in blocks.enumerated() {
            var stageBlocks: [Block] = []
            for block in 0..<count {
                let name = "layer\(stage + 1).\(block)"
                let stride = (stage > 0 && block == 0) ? 2 : 1
                let planes = try checkpoint.shape(name + ".conv1.weight").first ?? 0
                let loaded: Block
                switch kind {
                case .basic:
                    let conv1 = try ResNet.fold(checkpoint, conv: name + ".conv1", bn: name + ".bn1", out: planes,
                                                in: inChannels, kernel: 3, stride: stride)
                    let conv2 = try ResNet.fold(checkpoint, conv: name + ".conv2", bn: name + ".bn2", out: planes,
                                                in: planes, kernel: 3, stride: 1)
                    loaded = Block(conv1: conv1, conv2: conv2, conv3: nil,
                                   downsample: try ResNet.downsample(checkpoint, name, out: planes, in: inChannels, stride: stride))
                    inChannels = planes
                case .bottleneck:
                    let outChannels = try checkpoint.shape(name + ".conv3.weight").first ?? 0
                    let conv1 = try ResNet.fold(checkpoint, conv: name + ".conv1", bn: name + ".bn1", out: planes,
                                                in: inChannels, kernel: 1, stride: 1)
                    let conv2 = try ResNet.fold(checkpoint, conv: name + ".conv2", bn: name + ".bn2", out: planes,
                                                in: planes, kernel: 3, stride: stride)
                    let conv3 = try ResNet.fold(checkpoint, conv: name + ".conv3", bn: name + ".bn3", out: outChannels,
                                                in: planes, kernel: 1, stride: 1)
                    loaded = Block(conv1: conv1, conv2: conv2, conv3: conv3,
                                   downsample: try ResNet.downsample(checkpoint, name, out: outChannels, in: inChannels, stride: stride))
                    inChannels = outChannels
                }
                stageBlocks.append(loaded)
            }
            stages.append(stageBlocks)
        }
        self.stages = stages
        features = inChannels
        if checkpoint.contains("fc.weight") {
            let shape = try checkpoint.shape("fc.weight")
            guard shape.count == 2, shape[1] == inChannels else {
                throw ModelError.shapeMismatch(file: source.path, tensor: prefix + "fc.weight", expected: [shape.first ?? 1000, inChannels], actual: shape)
            }
            fcWeight = try checkpoint.float("fc.weight", shape)
            fcBias = try checkpoint.float("fc.bias", [shape[0]])
        } else {
            fcWeight = nil
            fcBias = nil
        }
    }

    /// The block's projection shortcut, which a block needs when it changes stride or width.
    static func downsample(_ checkpoint: Checkpoint, _ name: String, out: Int, in inChannels: Int, stride: Int) throws -> FoldedConv? {
        guard checkpoint.contains(name + ".downsample.0.weight") else {
            guard stride == 1, out == inChannels else {
                throw ModelError.missingTensor(file: checkpoint.path, tensor: checkpoint.prefix + name + ".downsample.0.weight")
            }
            return nil
        }
        return try fold(checkpoint, conv: name + ".downsample.0", bn: name + ".downsample.1", out: out, in: inChannels,
                        kernel: 1, stride: stride)
    }

    /// The prefix before `conv1.weight` (torchvision and timm share the rest of the names).
    static func prefix(of source: any TensorSource) throws -> String {
        let candidates = source.names.filter { $0.hasSuffix("conv1.weight") && !$0.contains("layer") }
            .map { String($0.dropLast("conv1.weight".count)) }
            .sorted { $0.count < $1.count }
        guard let prefix = candidates.first else {
            throw ModelError.missingTensor(file: source.path, tensor: "conv1.weight")
        }
        return prefix
    }

    static func fold(_ checkpoint: Checkpoint, conv: String, bn: String, out: Int, in inChannels: Int,
                     kernel: Int, stride: Int) throws -> FoldedConv {
        let folded = try CheckpointBatchNorm.fold(checkpoint, conv: conv, bn: bn, out: out, in: inChannels, kernel: kernel,
                                               eps: 1e-5, architecture: "resnet")
        do {
            return try FoldedConv(weight: folded.weight, bias: folded.bias, stride: stride, padding: kernel / 2)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: "resnet", reason: "packing \(conv): \(error)")
        }
    }

    /// Outputs this encoder can produce.
    public var outputs: [String] { MapLevels.outputs(maps: ResNet.stageNames, hasClassifier: fcWeight != nil) }

    public func validate(levels: [PyramidLevel]) throws {
        try MapLevels.validate(levels, architecture: architecture, outputs: outputs, maps: ResNet.stageNames)
    }

    public func encode(pixels: Tensor, levels: [PyramidLevel]) throws -> [Tensor] {
        try MapLevels.encode(pixels, levels: levels, architecture: architecture, outputs: outputs, maps: ResNet.stageNames,
                             buffers: &workerBuffers) { part, buffers in
            try self.run(part, levels: levels, buffers: buffers)
        }
    }

    private func run(_ pixels: Tensor, levels: [PyramidLevel], buffers b: Buffers) throws -> [Tensor] {
        let needsHead = levels.contains { $0.output == "avgpool" || $0.output == "fc" }
        let deepest = needsHead ? 3 : levels.compactMap { ResNet.stageNames.firstIndex(of: $0.output) }.max() ?? -1
        var results = [Tensor?](repeating: nil, count: levels.count)
        try Kernels.conv2d(pixels, weight: stem.weight, bias: stem.bias, stride: Size2D(2, 2), padding: Size2D(3, 3),
                           activation: .relu, packedWeight: stem.packed, into: &b.a, workspace: b.workspace)
        try Kernels.maxPool2d(b.a, kernel: 3, stride: 2, padding: 1, into: &b.x)
        if deepest >= 0 {
            for stage in 0...deepest {
                for block in stages[stage] { try forward(block, b) }
                for (index, level) in levels.enumerated() where level.output == ResNet.stageNames[stage] {
                    results[index] = try MapLevels.reduce(b.x, level)
                }
            }
        }
        if needsHead {
            try Kernels.globalAvgPool2d(b.x, into: &b.pooled)
            for (index, level) in levels.enumerated() {
                if level.output == "avgpool" { results[index] = BatchSplit.copy(b.pooled) }
                if level.output == "fc", let fcWeight {
                    results[index] = try Kernels.linear(b.pooled, weight: fcWeight, bias: fcBias)
                }
            }
        }
        return results.map { $0 ?? Tensor(zeros: [0]) }
    }

    /// One residual block from `buffers.x` back into `buffers.x`.
    private func forward(_ block: Block, _ b: Buffers) throws {
        try conv(block.conv1, b.x, into: &b.a, activation: .relu, b.workspace)
        if let conv3 = block.conv3 {
            try conv(block.conv2, b.a, into: &b.b, activation: .relu, b.workspace)
            try conv(conv3, b.b, into: &b.y, activation: .none, b.workspace)
        } else {
            try conv(block.conv2, b.a, into: &b.y, activation: .none, b.workspace)
        }
        if let downsample = block.downsample {
            try conv(downsample, b.x, into: &b.identity, activation: .none, b.workspace)
            try Kernels.addInPlace(&b.y, b.identity, activation: .relu)
        } else {
            try Kernels.addInPlace(&b.y, b.x, activation: .relu)
        }
        swap(&b.x, &b.y)
    }

    private func conv(_ layer: FoldedConv, _ input: Tensor, into out: inout Tensor, activation: Activation,
                      _ workspace: Workspace) throws {
        try Kernels.conv2d(input, weight: layer.weight, bias: layer.bias, stride: Size2D(layer.stride, layer.stride),
                           padding: Size2D(layer.padding, layer.padding), activation: activation,
                           packedWeight: layer.packed, into: &out, workspace: workspace)
    }
}
