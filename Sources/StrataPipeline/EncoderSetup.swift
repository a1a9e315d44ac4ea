import Foundation
import StrataCache
import StrataModels
import StrataTensor

/// How a build obtains encoders from a model name and a checkpoint location.
public struct EncoderProvider: Sendable {
    /// Loads an image encoder (`resnet50`, `vit`) from a checkpoint.
    public var image: @Sendable (_ model: String, _ checkpoint: URL) throws -> any ImageEncoder
    /// Loads a text encoder (`bert`) from a checkpoint folder.
    public var text: @Sendable (_ model: String, _ checkpoint: URL) throws -> any TextEncoder

    /// A provider from two loaders.
    public init(image: @escaping @Sendable (String, URL) throws -> any ImageEncoder,
                text: @escaping @Sendable (String, URL) throws -> any TextEncoder) {
        self.image = image
        self.text = text
    }
}

/// The weights an encoder of the pipeline runs with: its checkpoint, or weights drawn from a fixed seed
/// when the pipeline names none (or names a missing one and the run allows seeding).
struct ResolvedWeights {
    /// The checkpoint to load: the pipeline's, or a generated one in a scratch folder.
    var checkpoint: URL
    /// Whether the weights were generated from a seed rather than read from a trained checkpoint.
    var seeded: Bool
    /// The manifest entry.
    var manifestEntry: Manifest.Encoder

    /// Resolves an encoder's weights, generating seeded ones under `scratch` when needed.
    static func resolve(_ encoder: PipelineConfig.Encoder, seedMissing: Bool, scratch: URL) throws -> ResolvedWeights {
        let files = FileManager.default
        if let checkpoint = encoder.checkpoint, files.fileExists(atPath: checkpoint.path) {
            let weightsFiles: [URL]
            do {
                weightsFiles = try EncoderLoader.weightsFiles(of: checkpoint)
            } catch let error as ModelError {
                throw PipelineError.buildFailed(reason: "\(encoder.model) checkpoint: \(error)")
            }
            // A hub name is recorded with the file it resolved to.
            let recorded = encoder.checkpointName.map { "\($0) (\(weightsFiles[0].path))" } ?? checkpoint.lastPathComponent
            let entry = Manifest.Encoder(name: encoder.model, architecture: architecture(of: encoder.model),
                                         checkpoint: recorded,
                                         weightsSHA256: try weightsDigest(weightsFiles),
                                         config: try configValues(in: checkpoint), gemm: GemmBackend.recordedName)
            return ResolvedWeights(checkpoint: checkpoint, seeded: false, manifestEntry: entry)
        }
        if let name = encoder.checkpointName, !seedMissing {
            do {
                _ = try CheckpointResolver().resolve(name)
            } catch let error as ModelError {
                throw PipelineError.buildFailed(reason: "\(encoder.model): \(error)")
            }
        }
        if let checkpoint = encoder.checkpoint, !seedMissing {
            throw PipelineError.buildFailed(reason: "\(encoder.model) checkpoint \(checkpoint.path) does not exist (give one with --image-checkpoint or --text-checkpoint, or remove `checkpoint` to run on weights drawn from `seed`)")
        }
        var config: [String: Any] = [:]
        if let text = encoder.configJSON, let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            config = parsed
        }
        let sizes = SeededWeights.TransformerSizes(config: config)
        let folder = try seededFolder(encoder, sizes: sizes, under: scratch)
        let weights = folder.appendingPathComponent("model.safetensors")
        let entry = Manifest.Encoder(name: encoder.model, architecture: architecture(of: encoder.model),
                                     checkpoint: "seeded:\(encoder.seed) (random weights, not a trained model)",
                                     weightsSHA256: try String(contentsOf: folder.appendingPathComponent(seededHashFile),
                                                               encoding: .utf8),
                                     config: try configValues(in: folder), gemm: GemmBackend.recordedName)
        let usesConfig = ModelRegistry.family(named: encoder.model)?.usesConfig ?? true
        return ResolvedWeights(checkpoint: usesConfig ? folder : weights, seeded: true, manifestEntry: entry)
    }

    /// The sha256 of a single weights file; for a sharded checkpoint, the sha256 of the lines
    /// `<sha256>  <file name>` of the index and each shard (as `sha256sum` prints them).
    static func weightsDigest(_ files: [URL]) throws -> String {
        guard files.count > 1 else { return try SHA256.hex(ofFileAt: files[0]) }
        let lines = try files.map { "\(try SHA256.hex(ofFileAt: $0))  \($0.lastPathComponent)\n" }.joined()
        return SHA256.hex(of: Data(lines.utf8))
    }

    /// The file beside seeded weights that holds their sha256 (lowercase hex).
    static let seededHashFile = "model.safetensors.sha256"

    /// The folder of an encoder's seeded weights under `scratch`, generated on first use and reused after.
    ///
    /// The folder is named by model, seed and sizes (and the generator's version), and appears whole: it is
    /// written under a temporary name and renamed, so a build killed while writing leaves no half folder, and
    /// builds that run at once or one after the other share one copy instead of each leaving their own.
    static func seededFolder(_ encoder: PipelineConfig.Encoder, sizes: SeededWeights.TransformerSizes,
                             under scratch: URL) throws -> URL {
        let files = FileManager.default
        let sizesText = ModelRegistry.family(named: encoder.model)?.usesConfig == false ? "" : "\(sizes)"
        let digest = SHA256.hex(of: Data("\(SeededWeights.version)|\(encoder.model)|\(encoder.seed)|\(sizesText)".utf8))
        let folder = scratch.appendingPathComponent("\(encoder.model)-seed\(encoder.seed)-\(digest.prefix(16))")
        if files.fileExists(atPath: folder.appendingPathComponent(seededHashFile).path) { return folder }
        try files.createDirectory(at: scratch, withIntermediateDirectories: true)
        // Partial folders carry their writer's process id; those of processes that are gone (killed builds)
        // are removed.
        let partialPrefix = ".\(folder.lastPathComponent)-partial-"
        for name in (try? files.contentsOfDirectory(atPath: scratch.path)) ?? [] where name.hasPrefix(partialPrefix) {
            let owner = name.dropFirst(partialPrefix.count).prefix { $0 != "-" }
            if let pid = Int32(owner), kill(pid, 0) != 0, errno == ESRCH {
                try? files.removeItem(at: scratch.appendingPathComponent(name))
            }
        }
        let partial = scratch.appendingPathComponent(partialPrefix + "\(getpid())-\(UUID().uuidString)")
        defer { try? files.removeItem(at: partial) }
        try SeededWeights.writeCheckpoint(model: encoder.model, sizes: sizes, seed: encoder.seed, into: partial)
        // Hashed once here, so builds that reuse the folder do not read the weights again for the manifest.
        try SHA256.hex(ofFileAt: partial.appendingPathComponent("model.safetensors"))
            .write(to: partial.appendingPathComponent(seededHashFile), atomically: false, encoding: .utf8)
        // rename(2) fails when another build put the folder there first; its copy is the same.
        if rename(partial.path, folder.path) != 0, !files.fileExists(atPath: folder.path) {
            throw PipelineError.buildFailed(reason: "cannot move seeded weights into \(folder.path): \(String(cString: strerror(errno)))")
        }
        return folder
    }

    static func architecture(of model: String) -> String {
        ModelRegistry.family(named: model)?.architecture ?? model
    }

    /// A checkpoint folder's `config.json` as manifest values (empty for a bare weights file).
    static func configValues(in checkpoint: URL) throws -> [String: JSONValue] {
        let file = checkpoint.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return [:] }
        do {
            return try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: file))
        } catch {
            throw PipelineError.buildFailed(reason: "\(file.path): not a JSON object: \(error)")
        }
    }
}

/// One feature level as the build writes it: the encoder level and the cache column it fills.
struct PlannedLevel {
    var level: PyramidLevel
    var column: Manifest.Column
    /// Token levels keep one row per real token (variable length).
    var perToken: Bool
}

/// Turns a pipeline's level entries into encoder levels.
enum LevelMapping {
    /// `reduce: patches` keeps a ViT's patch tokens (all tokens but `[CLS]`) of the output, optionally
    /// averaged to a `pool` grid.
    static func pyramidLevels(_ levels: [PipelineConfig.Level]) -> [PyramidLevel] {
        levels.map { level in
            if level.reduce == "patches" {
                return PyramidLevel(output: level.output == "last_hidden_state" ? "patch_tokens" : "\(level.output)_patches",
                                    pool: level.pool)
            }
            return PyramidLevel(output: level.output, pool: level.pool, reduce: PyramidLevel.Reduction(rawValue: level.reduce) ?? .none)
        }
    }

    static func dtype(_ name: String) throws -> DType {
        guard let dtype = DType(rawValue: name), dtype != .i32 else {
            throw PipelineError.buildFailed(reason: "unknown storage dtype '\(name)'")
        }
        return dtype
    }

    /// The transformer layer of `hidden_state_K`.
    static func layer(of output: String) -> Int? {
        guard output.hasPrefix("hidden_state_") else { return nil }
        return Int(output.dropFirst("hidden_state_".count))
    }

    static func pooling(_ level: PipelineConfig.Level) -> String {
        if let pool = level.pool, pool.count == 2 { return "avg\(pool[0])x\(pool[1])" }
        return level.reduce
    }

    /// Columns of an encoder's levels (`pyramid` is `pyramidLevels(levels)`); `sampleShapes` are the per-sample shapes a probe run returned
    /// (for token levels, the shape of one token row).
    static func plan(_ levels: [PipelineConfig.Level], pyramid: [PyramidLevel], modality: Manifest.Modality, model: String,
                     sampleShapes: [[Int]], perToken: [Bool]) throws -> [PlannedLevel] {
        return try levels.indices.map { index in
            let level = levels[index]
            let shape: [Int?] = perToken[index] ? [nil] + sampleShapes[index].map { Optional($0) } : sampleShapes[index].map { Optional($0) }
            let column = Manifest.Column(name: "\(modality.rawValue)/\(model)/\(level.name)", modality: modality,
                                         dtype: try dtype(level.dtype), shape: shape, encoder: model, level: level.name,
                                         stride: ModelRegistry.family(named: model)?.stride(of: level.output),
                                         layer: layer(of: level.output),
                                         pooling: pooling(level))
            return PlannedLevel(level: pyramid[index], column: column, perToken: perToken[index])
        }
    }
}
