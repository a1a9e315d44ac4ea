/// One image of the dataset.
public struct DatasetImage: Sendable, Hashable, Codable {
    /// The dataset's image id (COCO's `id`), unique across the dataset; the cache's image key.
    public let id: Int64
    /// The file name as the annotations give it.
    public let fileName: String
    /// Where the file is expected on disk.
    public let path: String
    /// Width and height the annotations give (0 when unknown).
    public let width: Int
    public let height: Int
    /// The split this image belongs to (`train2017`, `val2017`, or a Karpathy split: `train`, `val`, `test`, `restval`).
    public let split: String

    /// Creates an image record.
    public init(id: Int64, fileName: String, path: String, width: Int, height: Int, split: String) {
        self.id = id
        self.fileName = fileName
        self.path = path
        self.width = width
        self.height = height
        self.split = split
    }
}

/// One caption of an image.
public struct Caption: Sendable, Hashable, Codable {
    /// The dataset's caption id (COCO's annotation `id`); the cache's caption key.
    public let id: Int64
    /// The image it describes.
    public let imageID: Int64
    /// The caption text as written.
    public let text: String

    /// Creates a caption record.
    public init(id: Int64, imageID: Int64, text: String) {
        self.id = id
        self.imageID = imageID
        self.text = text
    }
}

/// An object category from a COCO instances file.
public struct Category: Sendable, Hashable, Codable {
    public let id: Int64
    public let name: String
    public let supercategory: String
}

/// A validated dataset: images, captions, categories and what was wrong with the input.
///
/// Images are ordered by id and captions by image id then caption id, so every build that reads the
/// same files sees the same order.
public struct DatasetIndex: Sendable {
    /// Images, ordered by id.
    public let images: [DatasetImage]
    /// Captions, ordered by image id then caption id.
    public let captions: [Caption]
    /// Object categories, ordered by id (empty without an instances file).
    public let categories: [Category]
    /// Category ids present in each image, from the instances files.
    public let imageCategories: [Int64: [Int64]]
    /// Record-level problems: each dropped the record it names.
    public let problems: [DataError]

    /// Creates an index from records already in order.
    public init(images: [DatasetImage], captions: [Caption], categories: [Category] = [],
                imageCategories: [Int64: [Int64]] = [:], problems: [DataError] = []) {
        self.images = images
        self.captions = captions
        self.categories = categories
        self.imageCategories = imageCategories
        self.problems = problems
    }

    /// Ids of images that have no caption.
    public var imagesWithoutCaptions: [Int64] {
        let captioned = Set(captions.map(\.imageID))
        return images.map(\.id).filter { !captioned.contains($0) }
    }

    /// Number of images in each split.
    public var imagesPerSplit: [String: Int] {
        images.reduce(into: [:]) { $0[$1.split, default: 0] += 1 }
    }

    /// Captions of each image, by image id.
    public var captionsByImage: [Int64: [Caption]] {
        Dictionary(grouping: captions, by: \.imageID)
    }

    /// The index restricted to some splits (captions follow their images).
    public func filtered(splits: Set<String>) -> DatasetIndex {
        let kept = images.filter { splits.contains($0.split) }
        let ids = Set(kept.map(\.id))
        return DatasetIndex(images: kept, captions: captions.filter { ids.contains($0.imageID) },
                            categories: categories, imageCategories: imageCategories.filter { ids.contains($0.key) },
                            problems: problems)
    }
}
