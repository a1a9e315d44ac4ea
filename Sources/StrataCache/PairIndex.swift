/// The images of one split with their captions, for a loader reading the given columns: only ids,
/// taken from the `images` and `captions` tables (no feature value is read), so it stays small.
///
/// Images or captions without a value in one of the columns (failed at build time) are left out, and so
/// are images left without captions. Images ascend by id; each image's captions follow in id order.
public struct PairIndex: Sendable {
    /// The split.
    public let split: Split
    /// Image ids, ascending.
    public let imageIDs: [UInt64]
    /// Caption ids, grouped by image in `imageIDs` order.
    public let captionIDs: [UInt64]
    /// For each caption, its image's index in `imageIDs`.
    public let captionImage: [Int]
    /// Start of each image's captions in `captionIDs`, plus the total at the end.
    public let captionStarts: [Int]

    /// The captions (indices into `captionIDs`) of image `index`.
    public func captions(ofImage index: Int) -> Range<Int> { captionStarts[index]..<captionStarts[index + 1] }

    /// The index of `split` (`train`, `val`, `test`, `restval` or `unassigned`) for a loader of
    /// `imageColumns` and `textColumns`.
    public init(reader: CacheReader, split name: String, imageColumns: [String], textColumns: [String]) throws {
        guard let split = Split.allCases.first(where: { "\($0)" == name }) else {
            throw CacheError.invalidArgument("unknown split '\(name)' (train, val, test, restval, unassigned)")
        }
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        let transaction = snapshot.transaction
        let imageTables = try imageColumns.map { try snapshot.table(reader.column($0).name) }
        let textTables = try textColumns.map { try snapshot.table(reader.column($0).name) }
        var images: [UInt64] = []
        try transaction.forEach(try snapshot.table(CacheLayout.imagesTable)) { key, value in
            if let id = SampleKey.id(key), try ImageRecord.decode(value, id: id).split == split { images.append(id) }
            return true
        }
        // Presence checks read only B-tree pages: LMDB hands back a value's address without touching it.
        var kept: [UInt64] = []
        for id in images where try imageTables.allSatisfy({ try transaction.get($0, id: id) != nil }) { kept.append(id) }
        let position = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($0.element, $0.offset) })
        var byImage = [[UInt64]](repeating: [], count: kept.count)
        try transaction.forEach(try snapshot.table(CacheLayout.captionsTable)) { key, value in
            guard let id = SampleKey.id(key) else { return true }
            if let image = position[try CaptionRecord.imageID(value, id: id)] { byImage[image].append(id) }
            return true
        }
        var imageIDs: [UInt64] = []
        var captionIDs: [UInt64] = []
        var captionImage: [Int] = []
        var starts: [Int] = [0]
        for (index, image) in kept.enumerated() {
            var count = 0
            for caption in byImage[index] where try textTables.allSatisfy({ try transaction.get($0, id: caption) != nil }) {
                captionIDs.append(caption)
                captionImage.append(imageIDs.count)
                count += 1
            }
            guard count > 0 else { continue }
            imageIDs.append(image)
            starts.append(captionIDs.count)
        }
        self.split = split
        self.imageIDs = imageIDs
        self.captionIDs = captionIDs
        self.captionImage = captionImage
        captionStarts = starts
    }
}
