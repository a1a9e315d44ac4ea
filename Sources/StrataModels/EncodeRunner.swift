import Foundation
import StrataTensor

/// Runs an encoder over `.npy` inputs and writes one float32 `.npy` per level: the core of
/// `strata encode`, kept here so it can be tested without the binary.
public enum EncodeRunner {
    /// What to encode.
    public struct Request: Sendable {
        /// A `ModelRegistry` family name: `resnet18`...`resnet152`, `vit` or `bert`.
        public var model: String
        /// Checkpoint file or folder (see `EncoderLoader`).
        public var checkpoint: URL
        /// Pixels `[N, 3, H, W]` (f32) for image models, token ids `[N, L]` for text models.
        public var input: URL
        /// Attention mask `[N, L]` (text models; all ones when absent).
        public var attentionMask: URL?
        /// Token type ids `[N, L]` (text models; zeros when absent).
        public var tokenTypeIDs: URL?
        /// Levels to write; the model's defaults when empty.
        public var levels: [PyramidLevel]
        /// Folder receiving the `.npy` files (created if missing).
        public var outputDirectory: URL

        /// A request with every field.
        public init(model: String, checkpoint: URL, input: URL, attentionMask: URL? = nil, tokenTypeIDs: URL? = nil,
                    levels: [PyramidLevel] = [], outputDirectory: URL) {
            self.model = model
            self.checkpoint = checkpoint
            self.input = input
            self.attentionMask = attentionMask
            self.tokenTypeIDs = tokenTypeIDs
            self.levels = levels
            self.outputDirectory = outputDirectory
        }
    }

    /// The levels written when none are asked for.
    public static func defaultLevels(model: String) -> [PyramidLevel] {
        (ModelRegistry.family(named: model)?.defaultOutputs ?? []).map { PyramidLevel(output: $0) }
    }

    /// The file a level is written to: `layer2.npy`, `layer2_pool7x7.npy`, `last_hidden_state_mean.npy`.
    public static func fileName(_ level: PyramidLevel) -> String {
        level.description.replacingOccurrences(of: ":", with: "_") + ".npy"
    }

    /// Loads the model, encodes the input and writes the levels; returns the files written, in level order.
    @discardableResult
    public static func run(_ request: Request) throws -> [URL] {
        let levels = request.levels.isEmpty ? defaultLevels(model: request.model) : request.levels
        let input = try NPY.read(contentsOf: request.input)
        let outputs: [Tensor]
        if ModelRegistry.family(named: request.model)?.modality == .text {
            let encoder = try EncoderLoader.textEncoder(model: request.model, checkpoint: request.checkpoint)
            try encoder.validate(levels: levels)
            let ids = input.converted(to: .i32)
            let mask = try request.attentionMask.map { try NPY.read(contentsOf: $0).converted(to: .i32) }
                ?? Tensor(shape: ids.shape, int32s: [Int32](repeating: 1, count: ids.count))
            let types = try request.tokenTypeIDs.map { try NPY.read(contentsOf: $0).converted(to: .i32) }
            outputs = try encoder.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: types, levels: levels)
        } else {
            let encoder = try EncoderLoader.imageEncoder(model: request.model, checkpoint: request.checkpoint)
            try encoder.validate(levels: levels)
            outputs = try encoder.encode(pixels: input.converted(to: .f32), levels: levels)
        }
        try FileManager.default.createDirectory(at: request.outputDirectory, withIntermediateDirectories: true)
        var written: [URL] = []
        for (level, output) in zip(levels, outputs) {
            let url = request.outputDirectory.appendingPathComponent(fileName(level))
            try NPY.write(output, to: url)
            written.append(url)
        }
        return written
    }
}
