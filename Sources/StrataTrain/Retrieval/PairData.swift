import StrataCache
import StrataSchema
import StrataTensor

/// The images of one split of a cache with their captions, and a streaming reader of the feature columns
/// a head reads: only the split's ids are held in memory; features are read batch by batch through a
/// `StreamingLoader` as `f32` tokens (`[C, H, W]` maps become `H·W` tokens of width `C`; pooled vectors
/// one token), so memory is bounded by the batch and the prefetch depth, not by the cache.
///
/// Images or captions without a value in one of the columns (failed at build time) are left out, and so
/// are images left without captions.
public final class PairData: @unchecked Sendable {
    /// The cache path.
    public let cache: String
    /// The split read.
    public let split: String
    /// The split's ids.
    public let index: PairIndex
    /// Image columns read.
    public let imageColumns: [String]
    /// Text columns read.
    public let textColumns: [String]
    /// Feature width of each image column.
    public let imageWidths: [String: Int]
    /// Feature width of each text column.
    public let textWidths: [String: Int]
    /// The loader of every column.
    public let loader: StreamingLoader

    /// Image ids, ascending.
    public var imageIDs: [UInt64] { index.imageIDs }
    /// Caption ids, grouped by image in `imageIDs` order.
    public var captionIDs: [UInt64] { index.captionIDs }
    /// For each caption, its image's index in `imageIDs`.
    public var captionImage: [Int] { index.captionImage }
    /// For each image, the indices of its captions in `captionIDs`.
    public var captionsOfImage: [[Int]] { imageIDs.indices.map { Array(index.captions(ofImage: $0)) } }
    /// Number of images.
    public var imageCount: Int { index.imageIDs.count }
    /// Number of captions.
    public var captionCount: Int { index.captionIDs.count }

    /// Indexes `split` (`train`, `val`, `test`, `restval` or `unassigned`) of the cache read by `reader`
    /// for `imageColumns` and `textColumns`; text tokens beyond `maxTextLength` are dropped.
    public init(reader: CacheReader, split: String, imageColumns: [String], textColumns: [String],
                maxTextLength: Int = .max, options: LoaderOptions = LoaderOptions()) throws {
        func fail(_ reason: String) -> TrainError { .cacheData(cache: reader.path, reason: reason) }
        guard Split.allCases.contains(where: { "\($0)" == split }) else {
            throw fail("unknown split '\(split)' (train, val, test, restval, unassigned)")
        }
        let imageColumns = HeadConfig.unique(imageColumns)
        let textColumns = HeadConfig.unique(textColumns)
        try PairData.requireColumns(imageColumns + textColumns, in: reader)
        var imageWidths: [String: Int] = [:]
        var textWidths: [String: Int] = [:]
        for name in imageColumns {
            let column = try reader.column(name)
            guard column.modality == .image else { throw fail("column '\(name)' holds text features, the head wants image features there") }
            imageWidths[name] = try PairData.width(of: column)
        }
        for name in textColumns {
            let column = try reader.column(name)
            guard column.modality == .text else { throw fail("column '\(name)' holds image features, the head wants text features there") }
            textWidths[name] = try PairData.width(of: column)
        }
        index = try PairIndex(reader: reader, split: split, imageColumns: imageColumns, textColumns: textColumns)
        guard !index.imageIDs.isEmpty else {
            throw TrainError.emptySplit(cache: reader.path, split: split, columns: imageColumns + textColumns)
        }
        var options = options
        options.maxLength = maxTextLength == .max ? nil : maxTextLength
        loader = try StreamingLoader(reader: reader, columns: imageColumns + textColumns, options: options)
        cache = reader.path
        self.split = split
        self.imageColumns = imageColumns
        self.textColumns = textColumns
        self.imageWidths = imageWidths
        self.textWidths = textWidths
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

    /// Token width of a column as the loader delivers it (`TokenLayout`): the channel count of a
    /// `[C, H, W]` map, else the size of one step.
    static func width(of column: Manifest.Column) throws -> Int {
        TokenLayout(column).width
    }

    /// Image rows and caption rows of one batch.
    public struct Rows: Sendable, Equatable {
        /// Rows of `imageIDs`.
        public var images: [Int]
        /// Rows of `captionIDs`.
        public var captions: [Int]

        /// A batch of the given rows.
        public init(images: [Int], captions: [Int]) {
            self.images = images
            self.captions = captions
        }
    }

    /// The caption row of image `image`'s `choice`-th caption.
    public func caption(ofImage image: Int, choice: Int) -> Int { index.captions(ofImage: image).lowerBound + choice }

    /// Reads `batches` in the background, in order, at most the loader's prefetch depth ahead.
    public func stream(_ batches: [Rows]) -> PairStream {
        PairStream(data: self, rows: batches)
    }

    /// Head inputs pairing images `imageRows` with captions `captionRows`, read on the calling thread.
    public func inputs(images imageRows: [Int], captions captionRows: [Int]) throws -> PairInputs {
        try inputs(loader.load(request(Rows(images: imageRows, captions: captionRows))))
    }

    /// Batches of the image columns for the images at `rows`.
    public func imageBatch(_ rows: [Int]) throws -> [String: FeatureBatch] {
        try inputs(images: rows, captions: []).images
    }

    /// Batches of the text columns for the captions at `rows`.
    public func textBatch(_ rows: [Int]) throws -> [String: FeatureBatch] {
        try inputs(images: [], captions: rows).texts
    }

    func request(_ rows: Rows) -> LoaderRequest {
        LoaderRequest(imageIDs: rows.images.map { index.imageIDs[$0] }, captionIDs: rows.captions.map { index.captionIDs[$0] })
    }

    func inputs(_ batch: LoadedBatch) throws -> PairInputs {
        func features(_ names: [String]) throws -> [String: FeatureBatch] {
            var result: [String: FeatureBatch] = [:]
            for name in names {
                let column = try batch.column(name)
                result[name] = FeatureBatch(values: column.values, mask: column.mask)
            }
            return result
        }
        return PairInputs(images: try features(imageColumns), texts: try features(textColumns))
    }
}

/// Batches of a `PairData` read in the background, in order.
public final class PairStream {
    let data: PairData
    let rows: [PairData.Rows]
    let run: LoaderRun

    init(data: PairData, rows: [PairData.Rows]) {
        self.data = data
        self.rows = rows
        run = data.loader.run(rows.map(data.request))
    }

    /// The next batch's rows and head inputs, nil after the last.
    public func next() throws -> (rows: PairData.Rows, inputs: PairInputs)? {
        guard let batch = try run.next() else { return nil }
        return (rows[batch.index], try data.inputs(batch))
    }
}
