import Foundation
import StrataTensor

/// ResNet-50 (torchvision v1.5: stride on the 3x3 convolution) from a torchvision or timm state_dict,
/// every batch norm folded into the convolution before it when loaded.
///
/// Levels: `layer1`...`layer4` (C2..C5, `[N, C, H/4...H/32, W/4...W/32]`, optionally `:poolHxW` or
/// `:mean`), `avgpool` (`[N, 2048]`) and `fc` (logits, when the checkpoint has `fc.weight`).
public final class ResNet50: ImageEncoder {
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

    /// One bottleneck block.
    struct Bottleneck {
        let conv1, conv2, conv3: FoldedConv
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

    public let architecture = "resnet50"
    /// Stage block counts of ResNet-50.
    static let blocks = [3, 4, 6, 3]
    /// Output names in depth order.
    static let stageNames = ["layer1", "layer2", "layer3", "layer4"]

    let stem: FoldedConv
    let stages: [[Bottleneck]]
    let fcWeight: Tensor?
    let fcBias: Tensor?
    /// Buffers of worker 0 (the whole batch when it is not split).
    var buffers: Buffers { workerBuffers[0] }
    /// One set of buffers per worker.
    private var workerBuffers = [Buffers()]

    /// Loads the weights at `url`: a `.safetensors` file, a `torch.save` file (`.pth`, `.pt`, `.bin`), a
    /// sharded index, or a folder holding one of them.
    public convenience init(checkpoint url: URL) throws {
        try self.init(source: Checkpoint.open(url))
    }

    /// Loads the weights from an open checkpoint; names may carry a prefix such as `module.` or `model.`.
    init(source: any TensorSource) throws {
        let prefix = try ResNet50.prefix(of: source)
        let checkpoint = Checkpoint(source: source, prefix: prefix)
        stem = try ResNet50.fold(checkpoint, conv: "conv1", bn: "bn1", out: 64, in: 3, kernel: 7, stride: 2)
        var stages: [[Bottleneck]] = []
        var inChannels = 64
        for (stage, count) in ResNet50.blocks.enumerated() {
            let planes = 64 << stage
            var blocks: [Bottleneck] = []
            for block in 0..<count {
                let name = "layer\(stage + 1).\(block)"
                let stride = (stage > 0 && block == 0) ? 2 : 1
                let conv1 = try ResNet50.fold(checkpoint, conv: name + ".conv1", bn: name + ".bn1", out: planes,
                                              in: inChannels, kernel: 1, stride: 1)
                let conv2 = try ResNet50.fold(checkpoint, conv: name + ".conv2", bn: name + ".bn2", out: planes,
                                              in: planes, kernel: 3, stride: stride)
                let conv3 = try ResNet50.fold(checkpoint, conv: name + ".conv3", bn: name + ".bn3", out: planes * 4,
                                              in: planes, kernel: 1, stride: 1)
                var downsample: FoldedConv?
                if block == 0 {
                    downsample = try ResNet50.fold(checkpoint, conv: name + ".downsample.0", bn: name + ".downsample.1",
                                                   out: planes * 4, in: inChannels, kernel: 1, stride: stride)
                }
                blocks.append(Bottleneck(conv1: conv1, conv2: conv2, conv3: conv3, downsample: downsample))
                inChannels = planes * 4
            }
            stages.append(blocks)
        }
        self.stages = stages
        if checkpoint.contains("fc.weight") {
            let shape = try checkpoint.shape("fc.weight")
            guard shape.count == 2, shape[1] == 2048 else {
                throw ModelError.shapeMismatch(file: source.path, tensor: prefix + "fc.weight", expected: [shape.first ?? 1000, 2048], actual: shape)
            }
            fcWeight = try checkpoint.float("fc.weight", shape)
            fcBias = try checkpoint.float("fc.bias", [shape[0]])
        } else {
            fcWeight = nil
            fcBias = nil
        }
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
        let weight = try checkpoint.float(conv + ".weight", [out, inChannels, kernel, kernel])
        let bias = checkpoint.contains(conv + ".bias") ? try checkpoint.float(conv + ".bias", [out]) : nil
        let folded: (weight: Tensor, bias: Tensor)
        do {
            folded = try Kernels.foldBatchNorm(
                weight: weight, bias: bias,
                gamma: checkpoint.float(bn + ".weight", [out]), beta: checkpoint.float(bn + ".bias", [out]),
                mean: checkpoint.float(bn + ".running_mean", [out]), variance: checkpoint.float(bn + ".running_var", [out]),
                eps: 1e-5)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: "resnet50", reason: "folding \(bn): \(error)")
        }
        // A negative running variance leaves a NaN in the folded weights.
        if let index = folded.weight.firstNonFinite {
            throw ModelError.nonFiniteWeight(file: checkpoint.path, tensor: bn + ".running_var (folded into \(conv).weight)",
                                             index: index, value: "a variance below -eps")
        }
        do {
            return try FoldedConv(weight: folded.weight, bias: folded.bias, stride: stride, padding: kernel / 2)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: "resnet50", reason: "packing \(conv): \(error)")
        }
    }

    /// Outputs this encoder can produce.
    public var outputs: [String] { ResNet50.stageNames + ["avgpool"] + (fcWeight == nil ? [] : ["fc"]) }

    public func validate(levels: [PyramidLevel]) throws {
        try MapLevels.validate(levels, architecture: architecture, outputs: outputs, maps: ResNet50.stageNames)
    }

    public func encode(pixels: Tensor, levels: [PyramidLevel]) throws -> [Tensor] {
        try validate(levels: levels)
        try MapLevels.checkPixels(pixels, architecture: architecture)
        do {
            return try BatchSplit.run(pixels, levels: levels, buffers: &workerBuffers) { part, buffers in
                try self.run(part, levels: levels, buffers: buffers)
            }
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: architecture, reason: error.description)
        }
    }

    private func run(_ pixels: Tensor, levels: [PyramidLevel], buffers b: Buffers) throws -> [Tensor] {
        let needsHead = levels.contains { $0.output == "avgpool" || $0.output == "fc" }
        let deepest = needsHead ? 3 : levels.compactMap { ResNet50.stageNames.firstIndex(of: $0.output) }.max() ?? -1
        var results = [Tensor?](repeating: nil, count: levels.count)
        try Kernels.conv2d(pixels, weight: stem.weight, bias: stem.bias, stride: Size2D(2, 2), padding: Size2D(3, 3),
                           activation: .relu, packedWeight: stem.packed, into: &b.a, workspace: b.workspace)
        try Kernels.maxPool2d(b.a, kernel: 3, stride: 2, padding: 1, into: &b.x)
        if deepest >= 0 {
            for stage in 0...deepest {
                for block in stages[stage] { try forward(block, b) }
                for (index, level) in levels.enumerated() where level.output == ResNet50.stageNames[stage] {
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

    /// One bottleneck from `buffers.x` back into `buffers.x`.
    private func forward(_ block: Bottleneck, _ b: Buffers) throws {
        try conv(block.conv1, b.x, into: &b.a, activation: .relu, b.workspace)
        try conv(block.conv2, b.a, into: &b.b, activation: .relu, b.workspace)
        try conv(block.conv3, b.b, into: &b.y, activation: .none, b.workspace)
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
