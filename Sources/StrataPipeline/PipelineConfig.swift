import Foundation
import StrataImage
import StrataSchema
import Yams

/// A validated pipeline file: what to read, how to preprocess and encode it, and where to write the cache.
///
/// Paths are resolved against the pipeline file's folder. Defaults follow the torchvision ImageNet
/// evaluation transform and BERT's usual `max_length` of 128.
public struct PipelineConfig: Sendable, Equatable {
    /// Dataset files.
    public struct Dataset: Sendable, Equatable {
        public var annotations: [URL]
        public var images: URL
        public var instances: [URL]
        public var karpathy: URL?
        public var splits: [String]?
        public var limit: Int?
        public var extraImages: [URL]
    }

    /// Tokenizer settings.
    public struct Tokenizer: Sendable, Equatable {
        public var path: URL?
        public var maxLength: Int = 128
    }

    /// One feature level an encoder keeps.
    public struct Level: Sendable, Equatable {
        public var name: String
        public var output: String
        public var pool: [Int]?
        public var reduce: String
        public var dtype: String
    }

    /// One encoder and the levels it keeps.
    public struct Encoder: Sendable, Equatable {
        public var model: String
        /// The checkpoint: a path, or the cache location a hub name resolved to.
        public var checkpoint: URL?
        /// The hub name the checkpoint was given as (`torchvision/resnet50`, `google/vit-base-patch16-224`),
        /// when it was not a path.
        public var checkpointName: String?
        /// Sizes for a seeded encoder, as JSON text of a Hugging Face config.
        public var configJSON: String?
        public var seed: UInt64
        public var levels: [Level]
    }

    /// Batch sizes.
    public struct Batch: Sendable, Equatable {
        public var images: Int = 16
        public var captions: Int = 64
        public var commitEvery: Int = 256
    }

    /// Concurrency of each stage.
    public struct Workers: Sendable, Equatable {
        public var decode: Int = 2
        public var tokenize: Int = 1
        public var imageEncoder: Int = 2
        public var textEncoder: Int = 1
        /// OpenBLAS threads per call. Above 1, gemm results may differ in their last bits from run to
        /// run (OpenBLAS's results depend on its thread count, which concurrent encoders change), so
        /// caches are byte-identical only with 1: one BLAS thread per encoder worker, one worker per core.
        public var blasThreads: Int = 1
        public var queueDepth: Int = 8

        /// The defaults: two decoders, one tokenizer, two image encoder workers, one text encoder
        /// worker, one BLAS thread each.
        public init() {}

        /// Sets counts from `key=N` pairs such as `decode=3,image_encoder=2` (the pipeline file's keys).
        public mutating func set(_ assignments: String) throws {
            for pair in assignments.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let value = Int(parts[1]), value >= 1 else {
                    throw PipelineError.invalidValue(file: "--workers", key: String(pair), reason: "must be KEY=N with N ≥ 1")
                }
                switch parts[0] {
                case "decode": decode = value
                case "tokenize": tokenize = value
                case "image_encoder": imageEncoder = value
                case "text_encoder": textEncoder = value
                case "blas_threads": blasThreads = value
                case "queue_depth": queueDepth = value
                default:
                    throw PipelineError.invalidValue(file: "--workers", key: parts[0],
                                                     reason: "is not one of decode, tokenize, image_encoder, text_encoder, blas_threads, queue_depth")
                }
            }
        }
    }

    public var name: String
    public var dataset: Dataset
    /// Image preprocessing, in torchvision's terms, parsed once from the `preprocess` section.
    public var preprocess: PreprocessOptions
    public var tokenizer: Tokenizer
    public var imageEncoder: Encoder?
    public var textEncoder: Encoder?
    public var batch: Batch
    public var workers: Workers
    public var cache: URL
    /// The folder relative paths of the file resolve against.
    public internal(set) var baseDirectory = URL(fileURLWithPath: "/")
    /// The pipeline file's path as given (for messages).
    public internal(set) var file = ""
    /// The file as written, kept in the manifest.
    public var sourceText: String
    /// The parsed document with its defaults left out, as sorted-key JSON: what identifies the build.
    public var document: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(documentJSON.utf8)) as? [String: Any]) ?? [:] }
    /// `document` as canonical JSON text.
    public var documentJSON: String

    public static func == (lhs: PipelineConfig, rhs: PipelineConfig) -> Bool {
        lhs.documentJSON == rhs.documentJSON && lhs.cache == rhs.cache
    }

    /// Whether `other` builds the same cache: every resolved value that affects what is written is equal,
    /// defaults applied (so a key written out with its default value is no change); `name`, `workers` and
    /// the output path may differ.
    public func writesTheSameCache(as other: PipelineConfig) -> Bool {
        dataset == other.dataset && preprocess == other.preprocess && tokenizer == other.tokenizer
            && imageEncoder == other.imageEncoder && textEncoder == other.textEncoder && batch == other.batch
    }

    /// Reads, validates and resolves a pipeline file.
    public static func load(contentsOf url: URL) throws -> PipelineConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PipelineError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        return try parse(text, file: url.path, baseDirectory: url.deletingLastPathComponent())
    }

    /// Parses pipeline YAML; relative paths resolve against `baseDirectory`.
    public static func parse(_ text: String, file: String, baseDirectory: URL) throws -> PipelineConfig {
        let loaded: Any?
        do {
            loaded = try JSONDocument.loadYAML(text)
        } catch {
            throw PipelineError.invalidYAML(file: file, reason: "\(error)")
        }
        let document = JSONDocument.normalize(loaded ?? [String: Any]())
        let validator = try SchemaValidator(schemaJSON: PipelineSchema.json)
        if let first = validator.violations(of: document).first {
            throw PipelineError.invalidValue(file: file, key: first.key, reason: first.reason)
        }
        guard let root = document as? [String: Any] else {
            throw PipelineError.invalidValue(file: file, key: "", reason: "must be a mapping")
        }
        var reader = DocumentReader(root: root, file: file, base: baseDirectory)
        var config = try reader.config(sourceText: text)
        config.baseDirectory = baseDirectory
        config.file = file
        return config
    }
}
