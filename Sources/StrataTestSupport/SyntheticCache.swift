import StrataCache
import StrataTensor

/// A small, fully deterministic cache content for crash tests, format tests and the Python reader's
/// test: one column of every dtype, an empty column, a zero-sized shape and variable-length columns.
public enum SyntheticCache {
    /// The manifest of a synthetic cache.
    public static let manifest = Manifest(
        pipeline: "synthetic: deterministic values for tests\n",
        encoders: [Manifest.Encoder(name: "synthetic", architecture: "none", checkpoint: "none",
                                    weightsSHA256: String(repeating: "0", count: 64), config: ["hidden_size": .number(3)])],
        preprocessing: Manifest.Preprocessing(resize: 8, crop: [8, 8], interpolation: "bilinear",
                                              mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], mode: "exact"),
        tokenizer: Manifest.Tokenizer(kind: "bert-wordpiece", vocabSHA256: String(repeating: "1", count: 64),
                                      vocabSize: 30522, lowercase: true, maxLength: 8),
        columns: [
            Manifest.Column(name: "image/synthetic/f32", modality: .image, dtype: .f32, shape: [2, 3], encoder: "synthetic", level: "c1", stride: 4),
            Manifest.Column(name: "image/synthetic/f16", modality: .image, dtype: .f16, shape: [4], encoder: "synthetic", pooling: "avg"),
            Manifest.Column(name: "image/synthetic/bf16", modality: .image, dtype: .bf16, shape: [3], encoder: "synthetic", pooling: "avg"),
            Manifest.Column(name: "image/synthetic/i32", modality: .image, dtype: .i32, shape: [2], encoder: "synthetic"),
            Manifest.Column(name: "image/synthetic/zero-size", modality: .image, dtype: .f32, shape: [0, 5], encoder: "synthetic"),
            Manifest.Column(name: "image/synthetic/unused", modality: .image, dtype: .f16, shape: [7], encoder: "synthetic"),
            Manifest.Column(name: "text/synthetic/tokens", modality: .text, dtype: .f16, shape: [nil, 3], encoder: "synthetic", layer: 1, pooling: "none"),
            Manifest.Column(name: "text/synthetic/ids", modality: .text, dtype: .i32, shape: [nil], encoder: "synthetic"),
        ]
    )

    /// Caption ids are image ids plus this offset.
    public static let captionOffset: UInt64 = 1_000_000

    /// The image ids of batch `index` (ascending across batches, starting at 1).
    public static func imageIDs(batch index: Int, size: Int) -> [UInt64] {
        (0..<size).map { UInt64(index * size + $0 + 1) }
    }

    /// Tokens stored for caption `id` (0 to 4, so some captions are empty).
    public static func length(caption id: UInt64) -> Int { Int(id % 5) }

    /// The value of sample `id` in `column`, as an `f32`/`i32` tensor of the per-sample shape, before
    /// conversion to the column's storage dtype.
    public static func value(column: Manifest.Column, id: UInt64) -> Tensor {
        var shape = column.fixedShape
        if column.isVariableLength { shape.insert(length(caption: id), at: 0) }
        let count = Tensor.elementCount(shape)
        let salt = UInt64(column.name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
        let integers = (0..<count).map { Int64((id &* 2_654_435_761 &+ UInt64($0) &* 40_503 &+ salt) % 4001) - 2000 }
        if column.dtype == .i32 {
            return (try? Tensor(shape: shape, int32s: integers.map { Int32($0) })) ?? Tensor(zeros: shape, dtype: .i32)
        }
        return (try? Tensor(shape: shape, floats: integers.map { Float($0) / 16 + 0.001 })) ?? Tensor(zeros: shape)
    }

    /// Batch `index` of `size` images and captions: index records, every column except `unused`,
    /// and a failure every third batch.
    public static func batch(index: Int, size: Int) throws -> CacheBatch {
        var batch = CacheBatch()
        let imageIDs = imageIDs(batch: index, size: size)
        let captionIDs = imageIDs.map { $0 + captionOffset }
        for id in imageIDs {
            batch.addImage(id: id, ImageRecord(fileName: "images/\(id).jpg", width: Int(id % 640) + 1, height: Int(id % 480) + 1,
                                               split: Split(rawValue: UInt8(id % 5)) ?? .train))
        }
        for id in captionIDs {
            let tokens = (0..<length(caption: id)).map { Int32($0) + 101 }
            batch.addCaption(id: id, CaptionRecord(imageID: id - captionOffset, text: "caption of image \(id - captionOffset) ✓", tokenIDs: tokens))
        }
        for column in manifest.columns where column.name != "image/synthetic/unused" {
            let ids = column.modality == .image ? imageIDs : captionIDs
            if column.name == "text/synthetic/tokens" {
                // The batch-tensor path: one padded [B, T, 3] tensor and the real lengths.
                let lengths = ids.map(length(caption:))
                let longest = lengths.max() ?? 0
                var padded = [Float](repeating: 0, count: ids.count * longest * 3)
                for (row, id) in ids.enumerated() {
                    let values = value(column: column, id: id).floats
                    for i in values.indices { padded[row * longest * 3 + i] = values[i] }
                }
                try batch.add(column: column.name, ids: ids, rows: Tensor(shape: [ids.count, longest, 3], floats: padded), lengths: lengths)
            } else {
                for id in ids.reversed() { batch.add(column: column.name, id: id, value: value(column: column, id: id)) }
            }
        }
        if index % 3 == 2 {
            batch.addFailure(.image, id: UInt64(10_000_000 + index), reason: "synthetic decode failure in batch \(index)")
        }
        return batch
    }
}
