import Foundation
import StrataSchema
import StrataTensor

/// The self-description of a cache, stored as JSON under the key `manifest` of the `meta` table and
/// validated by `schemas/manifest.schema.json`.
public struct Manifest: Codable, Equatable, Sendable {
    /// The cache format this build writes and reads.
    public static let currentFormatVersion = 1

    /// The layout version (`currentFormatVersion` when written by this build).
    public var formatVersion: Int
    /// The pipeline file exactly as it was run.
    public var pipeline: String
    /// The encoders that produced the columns.
    public var encoders: [Encoder]
    /// Image preprocessing, when the cache holds image columns.
    public var preprocessing: Preprocessing?
    /// Tokenizer settings, when the cache holds text columns.
    public var tokenizer: Tokenizer?
    /// The feature columns, one LMDB table each.
    public var columns: [Column]
    /// Entry counts, updated in the same transaction as every committed batch.
    public var counts: Counts
    /// Which part of a build split into parts this cache is (`strata build --part I/N`); absent in a
    /// whole cache, including one merged from parts.
    public var part: Part?

    /// A manifest for a new cache; counts start at zero.
    public init(pipeline: String, encoders: [Encoder] = [], preprocessing: Preprocessing? = nil,
                tokenizer: Tokenizer? = nil, columns: [Column]) {
        formatVersion = Manifest.currentFormatVersion
        self.pipeline = pipeline
        self.encoders = encoders
        self.preprocessing = preprocessing
        self.tokenizer = tokenizer
        self.columns = columns
        counts = Counts()
    }

    /// The catalog entry of `name`, or nil.
    public func column(named name: String) -> Column? {
        columns.first { $0.name == name }
    }

    /// A frozen encoder as used for the build.
    public struct Encoder: Codable, Equatable, Sendable {
        /// The name columns refer to, e.g. `resnet50`.
        public var name: String
        /// Model family, e.g. `resnet`, `vit`, `bert`.
        public var architecture: String
        /// The checkpoint the weights came from, e.g. `microsoft/resnet-50`.
        public var checkpoint: String
        /// Lowercase hex sha256 of the weights file.
        public var weightsSHA256: String
        /// The model configuration (hidden sizes, layers, ...), as the checkpoint states it.
        public var config: [String: JSONValue]
        /// The single-precision gemm that computed the features (`strata-avx512` or `openblas`); the two agree
        /// to rounding, not bit for bit. Absent in caches written before it was recorded.
        public var gemm: String?

        /// Describes an encoder.
        public init(name: String, architecture: String, checkpoint: String, weightsSHA256: String,
                    config: [String: JSONValue] = [:], gemm: String? = nil) {
            self.name = name
            self.architecture = architecture
            self.checkpoint = checkpoint
            self.weightsSHA256 = weightsSHA256
            self.config = config
            self.gemm = gemm
        }
    }

    /// How images were turned into encoder input.
    public struct Preprocessing: Codable, Equatable, Sendable {
        /// torchvision `Resize(n)`: the shorter side after resizing, in pixels (nil with `resizeTo`).
        public var resize: Int?
        /// torchvision `Resize((h, w))`: the exact size [height, width] (nil with `resize`).
        public var resizeTo: [Int]?
        /// Center crop as [height, width], or nil for none.
        public var crop: [Int]?
        /// Resampling filter, e.g. `bilinear` or `bicubic`.
        public var interpolation: String
        /// Per-channel mean subtracted after scaling to [0, 1].
        public var mean: [Double]
        /// Per-channel standard deviation divided by.
        public var std: [Double]
        /// `exact` (Pillow + torchvision identical) or `fast`.
        public var mode: String

        /// Describes the preprocessing: `resize` (shorter side) or `resizeTo` ([height, width]), then
        /// an optional center `crop`.
        public init(resize: Int?, resizeTo: [Int]? = nil, crop: [Int]?, interpolation: String, mean: [Double],
                    std: [Double], mode: String) {
            self.resize = resize
            self.resizeTo = resizeTo
            self.crop = crop
            self.interpolation = interpolation
            self.mean = mean
            self.std = std
            self.mode = mode
        }

        /// `Resize(256)`, `Resize((224, 224))`, then `CenterCrop(224x224)` when there is one.
        public var summary: String {
            var parts: [String] = []
            if let resize { parts.append("Resize(\(resize))") }
            if let resizeTo, resizeTo.count == 2 { parts.append("Resize((\(resizeTo[0]), \(resizeTo[1])))") }
            if let crop, crop.count == 2 { parts.append("CenterCrop(\(crop[0])x\(crop[1]))") }
            return parts.joined(separator: ", ")
        }
    }

    /// How captions were tokenized.
    public struct Tokenizer: Codable, Equatable, Sendable {
        /// Tokenizer family, e.g. `bert-wordpiece`.
        public var kind: String
        /// Lowercase hex sha256 of the vocabulary file.
        public var vocabSHA256: String
        /// Number of vocabulary entries.
        public var vocabSize: Int
        /// Whether text is lower-cased (and accents stripped) first.
        public var lowercase: Bool
        /// Longest token sequence kept, special tokens included.
        public var maxLength: Int

        /// Describes the tokenizer.
        public init(kind: String, vocabSHA256: String, vocabSize: Int, lowercase: Bool, maxLength: Int) {
            self.kind = kind
            self.vocabSHA256 = vocabSHA256
            self.vocabSize = vocabSize
            self.lowercase = lowercase
            self.maxLength = maxLength
        }
    }

    /// Whether a column is keyed by image id or by caption id.
    public enum Modality: String, Codable, Sendable, CaseIterable {
        case image, text
    }

    /// One feature column: an LMDB table of the same name plus its `#crc` table.
    public struct Column: Codable, Equatable, Sendable {
        /// Table name, e.g. `image/resnet50/c4` or `text/bert/layer12`.
        public var name: String
        /// `image` columns are keyed by image id, `text` columns by caption id.
        public var modality: Modality
        /// Storage element type.
        public var dtype: DType
        /// Per-sample shape; a `nil` leading dimension is variable (its length is value size / row size).
        public var shape: [Int?]
        /// The encoder (an `encoders` name) that produced the column.
        public var encoder: String?
        /// Pyramid level name, e.g. `c4`.
        public var level: String?
        /// Spatial stride of the level, in input pixels.
        public var stride: Int?
        /// Transformer layer index (0 = embeddings).
        public var layer: Int?
        /// Pooling applied before storage, e.g. `none`, `mean`, `cls`, `avg`.
        public var pooling: String?
        /// Samples stored, kept in step with the table by the writer.
        public var count: Int

        /// Describes a column; `shape` may start with `nil` for variable-length columns.
        public init(name: String, modality: Modality, dtype: DType, shape: [Int?], encoder: String? = nil,
                    level: String? = nil, stride: Int? = nil, layer: Int? = nil, pooling: String? = nil) {
            self.name = name
            self.modality = modality
            self.dtype = dtype
            self.shape = shape
            self.encoder = encoder
            self.level = level
            self.stride = stride
            self.layer = layer
            self.pooling = pooling
            count = 0
        }

        /// Whether the leading dimension varies per sample.
        public var isVariableLength: Bool { shape.first == .some(nil) }

        /// The fixed dimensions: all of `shape`, or all but the variable leading one.
        public var fixedShape: [Int] { shape.compactMap { $0 } }

        /// Bytes of one row: the whole sample, or one step of the variable leading dimension.
        public var rowBytes: Int { Tensor.elementCount(fixedShape) * dtype.byteSize }

        /// The per-sample shape of a value of `byteCount` bytes, or nil when the size does not fit.
        public func sampleShape(byteCount: Int) -> [Int]? {
            if isVariableLength {
                let row = rowBytes
                if row == 0 { return byteCount == 0 ? [0] + fixedShape : nil }
                guard byteCount % row == 0 else { return nil }
                return [byteCount / row] + fixedShape
            }
            return byteCount == rowBytes ? fixedShape : nil
        }

        /// Name of the table that holds the CRC-32 of each value.
        public var checksumTable: String { name + CacheLayout.checksumSuffix }
    }

    /// One part of a build split into N parts: the shards (transactions of the whole build) it holds.
    public struct Part: Codable, Equatable, Sendable {
        /// This part's number, from 0.
        public var index: Int
        /// How many parts the build was split into.
        public var count: Int
        /// Shards (transactions) of the whole build, all parts together.
        public var totalShards: Int
        /// This part's shards in the order it commits them: its `k`-th transaction is `shards[k]`.
        public var shards: [Shard]

        /// Describes part `index` of `count`.
        public init(index: Int, count: Int, totalShards: Int, shards: [Shard]) {
            self.index = index
            self.count = count
            self.totalShards = totalShards
            self.shards = shards
        }

        /// `I-of-N`, the part's name and the folder it is written to by default.
        public var name: String { "\(index)-of-\(count)" }

        /// One shard of the whole build: its images are exactly the build's images with ids in
        /// `firstImage...lastImage`, and its captions those of these images.
        public struct Shard: Codable, Equatable, Sendable {
            /// Position in the whole build (its transaction number there).
            public var shard: Int
            /// The smallest image id of the shard.
            public var firstImage: UInt64
            /// The largest image id of the shard.
            public var lastImage: UInt64
            /// Images in the shard.
            public var images: Int
            /// Captions in the shard.
            public var captions: Int

            /// Describes a shard.
            public init(shard: Int, firstImage: UInt64, lastImage: UInt64, images: Int, captions: Int) {
                self.shard = shard
                self.firstImage = firstImage
                self.lastImage = lastImage
                self.images = images
                self.captions = captions
            }
        }
    }

    /// Entry counts of the index tables.
    public struct Counts: Codable, Equatable, Sendable {
        /// Entries in `images`.
        public var images = 0
        /// Entries in `captions`.
        public var captions = 0
        /// Entries in `failures`.
        public var failures = 0
        /// Batches committed by the writer.
        public var batches = 0

        /// All zero.
        public init() {}
    }

    /// The manifest's JSON bytes: sorted keys, so equal manifests give equal bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(self)
        } catch {
            throw CacheError.manifestInvalid(path: "<manifest>", reason: "cannot encode: \(error)")
        }
    }

    /// Decodes and checks manifest JSON read from the cache at `path`.
    public static func decode(_ data: Data, path: String) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw CacheError.manifestInvalid(path: path, reason: "\(error)")
        }
        guard manifest.formatVersion == currentFormatVersion else {
            throw CacheError.unsupportedFormatVersion(path: path, found: manifest.formatVersion, supported: currentFormatVersion)
        }
        try manifest.validate(path: path)
        return manifest
    }

    /// What differs between this manifest and `other`, key by key (`encoders[0].checkpoint: "a" → "b"`),
    /// counts left out; the pipeline text is named, not quoted.
    public func differences(to other: Manifest) -> [String] {
        func document(_ manifest: Manifest) -> Any {
            var copy = manifest
            copy.counts = Counts()
            for index in copy.columns.indices { copy.columns[index].count = 0 }
            copy.pipeline = ""
            guard let data = try? copy.encoded(), let object = try? JSONSerialization.jsonObject(with: data) else { return [String: Any]() }
            return object
        }
        var changes = JSONDocument.differences(from: document(self), to: document(other))
        if pipeline != other.pipeline { changes.insert("pipeline: the pipeline file's text differs", at: 0) }
        return changes
    }

    /// Checks what JSON decoding cannot: unique, well-formed column names and shapes.
    public func validate(path: String) throws {
        var seen = Set<String>()
        for column in columns {
            guard !column.name.isEmpty, !column.name.contains("#") else {
                throw CacheError.manifestInvalid(path: path, reason: "column name '\(column.name)' is empty or contains '#'")
            }
            guard !CacheLayout.reservedTables.contains(column.name) else {
                throw CacheError.manifestInvalid(path: path, reason: "column name '\(column.name)' is a reserved table name")
            }
            guard seen.insert(column.name).inserted else {
                throw CacheError.manifestInvalid(path: path, reason: "column '\(column.name)' is listed twice")
            }
            guard column.shape.dropFirst().allSatisfy({ $0 != nil }), column.fixedShape.allSatisfy({ $0 >= 0 }) else {
                throw CacheError.manifestInvalid(path: path, reason: "column '\(column.name)': only the leading dimension may be variable (null), and sizes must be non-negative")
            }
        }
    }
}
