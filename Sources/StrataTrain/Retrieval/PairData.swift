import StrataCache
import StrataSchema
import StrataTensor

/// The images of one split of a cache with their captions and the feature columns a head reads, held
/// in memory as `f32` tokens (`[C, H, W]` maps become `H·W` tokens of width `C`; pooled vectors one token).
///
/// Images or captions without a value in one of the columns (failed at build time) are left out, and so
/// are images left without captions.
public final class PairData {
    /// Tokens of one column: sample `i` holds `lengths[i]` tokens of `width` floats from `offsets[i]`.
    struct Store {
        let width: Int
        var offsets: [Int] = []
        var lengths: [Int] = []
        var data: [Float] = []

        mutating func append(_ tokens: [Float], count: Int) {
            offsets.append(data.count)
            lengths.append(count)
            data += tokens
        }

        func batch(_ rows: [Int]) -> FeatureBatch {
            let longest = rows.map { lengths[$0] }.max() ?? 0
            var values = [Float](repeating: 0, count: rows.count * longest * width)
            var mask = [Float](repeating: 0, count: rows.count * longest)
            var ragged = false
            for (r, row) in rows.enumerated() {
                let n = lengths[row]
                if n != longest { ragged = true }
                let start = offsets[row]
                values.withUnsafeMutableBufferPointer { dst in
                    data.withUnsafeBufferPointer { src in
                        for i in 0..<(n * width) { dst[r * longest * width + i] = src[start + i] }
                    }
                }
                for t in 0..<n { mask[r * longest + t] = 1 }
            }
            let tensor = (try? Tensor(shape: [rows.count, longest, width], floats: values)) ?? Tensor(zeros: [rows.count, longest, width])
            let maskTensor = ragged ? try? Tensor(shape: [rows.count, longest], floats: mask) : nil
            return FeatureBatch(values: tensor, mask: maskTensor)
        }
    }

    /// The cache path.
    public let cache: String
    /// The split loaded.
    public let split: String
    /// Image ids, ascending.
    public let imageIDs: [UInt64]
    /// Caption ids, grouped by image in `imageIDs` order.
    public let captionIDs: [UInt64]
    /// For each caption, its image's index in `imageIDs`.
    public let captionImage: [Int]
    /// For each image, the indices of its captions in `captionIDs`.
    public let captionsOfImage: [[Int]]
    let imageStores: [String: Store]
    let textStores: [String: Store]

    /// Number of images.
    public var imageCount: Int { imageIDs.count }
    /// Number of captions.
    public var captionCount: Int { captionIDs.count }

    /// Feature width of each loaded image column.
    public var imageWidths: [String: Int] { imageStores.mapValues(\.width) }
    /// Feature width of each loaded text column.
    public var textWidths: [String: Int] { textStores.mapValues(\.width) }

    /// Loads `split` (`train`, `val`, `test`, `restval` or `unassigned`) of the cache read by `reader`,
    /// reading only `imageColumns` and `textColumns`; text tokens beyond `maxTextLength` are dropped.
    public init(reader: CacheReader, split: String, imageColumns: [String], textColumns: [String],
                maxTextLength: Int = .max) throws {
        func fail(_ reason: String) -> TrainError { .cacheData(cache: reader.path, reason: reason) }
        guard let wanted = Split.allCases.first(where: { "\($0)" == split }) else {
            throw fail("unknown split '\(split)' (train, val, test, restval, unassigned)")
        }
        let imageColumns = HeadConfig.unique(imageColumns)
        let textColumns = HeadConfig.unique(textColumns)
        try PairData.requireColumns(imageColumns + textColumns, in: reader)
        for name in imageColumns {
            let column = try reader.column(name)
            guard column.modality == .image else { throw fail("column '\(name)' holds text features, the head wants image features there") }
        }
        for name in textColumns {
            let column = try reader.column(name)
            guard column.modality == .text else { throw fail("column '\(name)' holds image features, the head wants text features there") }
        }
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }

        var splitImages = Set<UInt64>()
        for id in try snapshot.ids(table: CacheLayout.imagesTable) {
            if let record = try snapshot.image(id: id), record.split == wanted { splitImages.insert(id) }
        }
        var captionsByImage: [UInt64: [UInt64]] = [:]
        for id in try snapshot.ids(table: CacheLayout.captionsTable) {
            if let record = try snapshot.caption(id: id), splitImages.contains(record.imageID) {
                captionsByImage[record.imageID, default: []].append(id)
            }
        }

        var imageStores = Dictionary(uniqueKeysWithValues: try imageColumns.map { ($0, Store(width: try PairData.width(of: reader.column($0)))) })
        var textStores = Dictionary(uniqueKeysWithValues: try textColumns.map { ($0, Store(width: try PairData.width(of: reader.column($0)))) })
        var imageIDs: [UInt64] = []
        var captionIDs: [UInt64] = []
        var captionImage: [Int] = []
        var captionsOfImage: [[Int]] = []
        for imageID in splitImages.sorted() {
            guard let captions = captionsByImage[imageID] else { continue }
            var imageTokens: [(String, [Float], Int)] = []
            for name in imageColumns {
                guard let value = try snapshot.value(column: name, id: imageID) else { break }
                let (tokens, count) = PairData.tokens(value, maxLength: .max)
                imageTokens.append((name, tokens, count))
            }
            guard imageTokens.count == imageColumns.count else { continue }
            var kept: [Int] = []
            for captionID in captions.sorted() {
                var textTokens: [(String, [Float], Int)] = []
                for name in textColumns {
                    guard let value = try snapshot.value(column: name, id: captionID) else { break }
                    let (tokens, count) = PairData.tokens(value, maxLength: maxTextLength)
                    textTokens.append((name, tokens, count))
                }
                guard textTokens.count == textColumns.count else { continue }
                for (name, tokens, count) in textTokens { textStores[name]?.append(tokens, count: count) }
                kept.append(captionIDs.count)
                captionIDs.append(captionID)
                captionImage.append(imageIDs.count)
            }
            guard !kept.isEmpty else { continue }
            for (name, tokens, count) in imageTokens { imageStores[name]?.append(tokens, count: count) }
            imageIDs.append(imageID)
            captionsOfImage.append(kept)
        }
        guard !imageIDs.isEmpty else {
            throw TrainError.emptySplit(cache: reader.path, split: split, columns: imageColumns + textColumns)
        }
        cache = reader.path
        self.split = split
        self.imageIDs = imageIDs
        self.captionIDs = captionIDs
        self.captionImage = captionImage
        self.captionsOfImage = captionsOfImage
        self.imageStores = imageStores
        self.textStores = textStores
    }

    /// Fails naming the first of `names` the cache lacks, with the columns it has (and the likely
    /// intended one).
    static func requireColumns(_ names: [String], in reader: CacheReader) throws {
        let existing = reader.manifest.columns.map(\.name)
        for name in names where reader.manifest.column(named: name) == nil {
            let hint = KeySuggestion.closest(to: name, among: existing).map { "did you mean '\($0)'? " } ?? ""
            throw TrainError.cacheData(cache: reader.path, reason: "has no column '\(name)' (\(hint)its columns: \(existing.joined(separator: ", ")))")
        }
    }

    /// Token width of a column: the channel count of a `[C, H, W]` map, else the last dimension.
    static func width(of column: Manifest.Column) throws -> Int {
        let shape = column.fixedShape
        if shape.count == 3 && !column.isVariableLength { return shape[0] }
        return shape.last ?? 1
    }

    /// A value as tokens: `[C]` → 1 token, `[C, H, W]` → `H·W` tokens (channels last), `[L, H]` → `L` tokens.
    static func tokens(_ value: Tensor, maxLength: Int) -> ([Float], Int) {
        let floats = value.converted(to: .f32).floats
        let shape = value.shape
        switch shape.count {
        case 0, 1:
            return (floats, 1)
        case 3:
            let (c, positions) = (shape[0], shape[1] * shape[2])
            var out = [Float](repeating: 0, count: floats.count)
            for ch in 0..<c {
                for p in 0..<positions { out[p * c + ch] = floats[ch * positions + p] }
            }
            return (out, positions)
        default:
            let width = shape.dropFirst().reduce(1, *)
            let n = min(shape[0], maxLength)
            return (Array(floats.prefix(n * width)), n)
        }
    }

    /// Batches of the image columns for the images at `rows`.
    public func imageBatch(_ rows: [Int]) -> [String: FeatureBatch] {
        imageStores.mapValues { $0.batch(rows) }
    }

    /// Batches of the text columns for the captions at `rows`.
    public func textBatch(_ rows: [Int]) -> [String: FeatureBatch] {
        textStores.mapValues { $0.batch(rows) }
    }

    /// Head inputs pairing images `imageRows` with captions `captionRows`.
    public func inputs(images imageRows: [Int], captions captionRows: [Int]) -> PairInputs {
        PairInputs(images: imageBatch(imageRows), texts: textBatch(captionRows))
    }
}
