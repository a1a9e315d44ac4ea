import Foundation
import StrataAutodiff
import StrataCache
import StrataTensor

/// A cache of synthetic image and caption features for testing heads and benchmarks.
///
/// Each image has a random latent vector `z`. Image features are random: every image column is a fixed
/// random linear map of `z` plus per-position noise (a `[C, H, W]` column) or of `z` alone (a pooled
/// `[C]` column). Caption features are a noisy linear function of them: every token of a text column is
/// another fixed random map of `z + σ·ε` with fresh noise `ε` per token, pooled text columns likewise.
/// Token-level columns have a random length per caption. With `shuffledTrainPairs`, training captions
/// are generated from another training image's latent, so nothing links a training caption to its image.
public struct SyntheticPairCache: Sendable {
    /// An image column: name and per-sample shape (`[C]` or `[C, H, W]`).
    public struct ImageColumn: Sendable {
        public var name: String
        public var shape: [Int]
        public init(_ name: String, _ shape: [Int]) {
            self.name = name
            self.shape = shape
        }
    }

    /// A text column: name, width, and whether it holds tokens (`[L, W]`) or one pooled vector (`[W]`).
    /// A pooled column with `meanOf` set is the mean of that (earlier, token-level) column's tokens,
    /// as a real pipeline's `mean` level is of `last_hidden_state`.
    public struct TextColumn: Sendable {
        public var name: String
        public var width: Int
        public var tokens: Bool
        public var meanOf: String?
        public init(_ name: String, width: Int, tokens: Bool, meanOf: String? = nil) {
            self.name = name
            self.width = width
            self.tokens = tokens
            self.meanOf = meanOf
        }
    }

    /// Training images.
    public var trainImages = 200
    /// Validation images.
    public var valImages = 50
    /// Captions per image.
    public var captionsPerImage = 5
    /// Width of the latent vector.
    public var latent = 16
    /// Caption noise σ relative to the latent's unit scale.
    public var textNoise: Float = 0.3
    /// Image per-position noise.
    public var imageNoise: Float = 0.3
    /// Token count range of token-level text columns.
    public var tokenRange: ClosedRange<Int> = 3...9
    /// Storage dtype of the columns.
    public var dtype: DType = .f32
    /// Whether training captions are generated from the wrong images.
    public var shuffledTrainPairs = false
    /// Seed of everything.
    public var seed: UInt64 = 7
    /// Image columns.
    public var imageColumns: [ImageColumn]
    /// Text columns.
    public var textColumns: [TextColumn]

    /// A cache description with the given columns and default sizes.
    public init(imageColumns: [ImageColumn], textColumns: [TextColumn]) {
        self.imageColumns = imageColumns
        self.textColumns = textColumns
    }

    /// Small columns for unit tests: a pyramid of three image levels plus a pooled vector, two token-level
    /// text layers and a pooled text vector.
    public static var small: SyntheticPairCache {
        SyntheticPairCache(
            imageColumns: [ImageColumn("image/synth/c3", [16, 3, 3]), ImageColumn("image/synth/c4", [24, 2, 2]),
                           ImageColumn("image/synth/c5", [32, 2, 2]), ImageColumn("image/synth/pooled", [32])],
            textColumns: [TextColumn("text/synth/tokens", width: 24, tokens: true),
                          TextColumn("text/synth/layer3", width: 24, tokens: true),
                          TextColumn("text/synth/mean", width: 24, tokens: false)])
    }

    /// The column names and shapes of `pipelines/coco-mini-resnet50-minilm.yaml` (ResNet-50 C3–C5 pooled
    /// to 7×7 and its pooled vector; MiniLM tokens, layer 3 and mean, width 384), stored as f16.
    public static var cocoMiniShapes: SyntheticPairCache {
        var spec = SyntheticPairCache(
            imageColumns: [ImageColumn("image/resnet50/c3", [512, 7, 7]), ImageColumn("image/resnet50/c4", [1024, 7, 7]),
                           ImageColumn("image/resnet50/c5", [2048, 7, 7]), ImageColumn("image/resnet50/pooled", [2048])],
            textColumns: [TextColumn("text/bert/tokens", width: 384, tokens: true),
                          TextColumn("text/bert/layer3", width: 384, tokens: true),
                          TextColumn("text/bert/mean", width: 384, tokens: false, meanOf: "text/bert/tokens")])
        spec.dtype = .f16
        spec.tokenRange = 8...20
        spec.latent = 32
        spec.textNoise = 1.0
        return spec
    }

    /// The manifest of the cache.
    public var manifest: Manifest {
        let columns = imageColumns.map {
            Manifest.Column(name: $0.name, modality: .image, dtype: dtype, shape: $0.shape.map { Optional($0) }, encoder: "synthetic")
        } + textColumns.map {
            Manifest.Column(name: $0.name, modality: .text, dtype: dtype, shape: $0.tokens ? [nil, $0.width] : [$0.width], encoder: "synthetic")
        }
        return Manifest(pipeline: "synthetic pairs: text features a noisy linear function of random image features\n",
                        encoders: [Manifest.Encoder(name: "synthetic", architecture: "none", checkpoint: "none",
                                                    weightsSHA256: String(repeating: "0", count: 64), config: [:])],
                        columns: columns)
    }

    /// Writes the cache into the new directory `path`.
    public func write(to path: String) throws {
        var generator = SeededGenerator(seed: seed)
        func gaussian(_ count: Int, scale: Float) -> [Float] { (0..<count).map { _ in generator.nextNormal() * scale } }
        let mapScale = 1 / Float(latent).squareRoot()
        let imageMaps = imageColumns.map { gaussian($0.shape[0] * latent, scale: mapScale) }
        let textMaps = textColumns.map { gaussian($0.width * latent, scale: mapScale) }
        let total = trainImages + valImages
        let latents = (0..<total).map { _ in gaussian(latent, scale: 1) }
        var source = Array(0..<total)
        if shuffledTrainPairs {
            var order = Array(0..<trainImages)
            order.shuffle(using: &generator)
            for i in 0..<trainImages { source[i] = order[i] }
        }
        func apply(_ map: [Float], rows: Int, _ v: [Float]) -> [Float] {
            (0..<rows).map { r in
                var s: Float = 0
                for j in 0..<latent { s += map[r * latent + j] * v[j] }
                return s
            }
        }
        let writer = try CacheWriter(path: path, manifest: manifest)
        defer { writer.close() }
        let perBatch = 64
        for start in stride(from: 0, to: total, by: perBatch) {
            var batch = CacheBatch()
            for index in start..<min(start + perBatch, total) {
                let imageID = UInt64(index + 1)
                let z = latents[index]
                batch.addImage(id: imageID, ImageRecord(fileName: "synthetic/\(imageID).jpg", width: 64, height: 64,
                                                        split: index < trainImages ? .train : .val))
                for (column, map) in zip(imageColumns, imageMaps) {
                    let c = column.shape[0]
                    if column.shape.count == 3 {
                        let positions = column.shape[1] * column.shape[2]
                        var values = [Float](repeating: 0, count: c * positions)
                        for p in 0..<positions {
                            let noisy = zip(z, gaussian(latent, scale: imageNoise)).map { $0 + $1 }
                            let x = apply(map, rows: c, noisy)
                            for ch in 0..<c { values[ch * positions + p] = x[ch] }
                        }
                        batch.add(column: column.name, id: imageID, value: try Tensor(shape: column.shape, floats: values).converted(to: dtype))
                    } else {
                        batch.add(column: column.name, id: imageID, value: try Tensor(shape: column.shape, floats: apply(map, rows: c, z)).converted(to: dtype))
                    }
                }
                let textLatent = latents[source[index]]
                for k in 0..<captionsPerImage {
                    let captionID = imageID * 100 + UInt64(k)
                    let length = tokenRangeSample(&generator)
                    batch.addCaption(id: captionID, CaptionRecord(imageID: imageID, text: "synthetic caption \(k) of image \(imageID)",
                                                                  tokenIDs: (0..<length).map { Int32(100 + $0) }))
                    var written: [String: [Float]] = [:]
                    for (column, map) in zip(textColumns, textMaps) {
                        if let source = column.meanOf, let tokens = written[source], !column.tokens {
                            let steps = tokens.count / column.width
                            let mean = (0..<column.width).map { j in
                                stride(from: j, to: tokens.count, by: column.width).reduce(Float(0)) { $0 + tokens[$1] } / Float(max(steps, 1))
                            }
                            batch.add(column: column.name, id: captionID, value: try Tensor(shape: [column.width], floats: mean).converted(to: dtype))
                            continue
                        }
                        let steps = column.tokens ? length : 1
                        var values: [Float] = []
                        for _ in 0..<steps {
                            let noisy = zip(textLatent, gaussian(latent, scale: textNoise)).map { $0 + $1 }
                            values += apply(map, rows: column.width, noisy)
                        }
                        written[column.name] = values
                        let shape = column.tokens ? [steps, column.width] : [column.width]
                        batch.add(column: column.name, id: captionID, value: try Tensor(shape: shape, floats: values).converted(to: dtype))
                    }
                }
            }
            try writer.write(batch)
        }
    }

    private func tokenRangeSample(_ generator: inout SeededGenerator) -> Int {
        tokenRange.lowerBound + Int(generator.next() % UInt64(tokenRange.count))
    }
}
