import Foundation

/// One COCO caption file and the folder its images live in.
public struct CaptionSource: Sendable {
    /// A `captions_*.json` file.
    public let annotations: URL
    /// The folder holding the images the file names.
    public let imageFolder: URL
    /// The split name given to its images (by default the file's, e.g. `train2017`).
    public let split: String

    /// Pairs an annotation file with its image folder. When `imageRoot` holds a sub-folder named for
    /// the file's split (`captions_val2017.json` → `val2017/`), that sub-folder is used.
    public init(annotations: URL, imageRoot: URL, split: String? = nil) {
        self.annotations = annotations
        let derived = CaptionSource.splitName(of: annotations)
        self.split = split ?? derived
        let nested = imageRoot.appendingPathComponent(derived)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: nested.path, isDirectory: &isDirectory), isDirectory.boolValue {
            imageFolder = nested
        } else {
            imageFolder = imageRoot
        }
    }

    /// `captions_train2017.json` → `train2017`; any other name → its stem.
    static func splitName(of url: URL) -> String {
        let stem = url.deletingPathExtension().lastPathComponent
        if let range = stem.range(of: "captions_") { return String(stem[range.upperBound...]) }
        return stem
    }
}

/// Reads COCO caption and instance files (and optionally the Karpathy split file) into a `DatasetIndex`.
///
/// Structural problems (unreadable file, invalid JSON, a missing key, a wrong type) throw. Record-level
/// problems (duplicate ids, captions of unknown images, empty captions, file names that leave the
/// image folder) drop the record and are listed in `DatasetIndex.problems`, or throw when `strict`.
public struct DatasetLoader: Sendable {
    /// Caption files with their image folders.
    public var captionSources: [CaptionSource]
    /// `instances_*.json` files, for categories.
    public var instanceFiles: [URL]
    /// Karpathy's `dataset_coco.json`, whose splits replace the files' own.
    public var karpathySplits: URL?
    /// Image root for a Karpathy-only dataset (`filepath/filename` below it).
    public var karpathyImageRoot: URL?
    /// Throw on the first record-level problem instead of dropping the record.
    public var strict: Bool

    /// Creates a loader.
    public init(captionSources: [CaptionSource], instanceFiles: [URL] = [], karpathySplits: URL? = nil,
                karpathyImageRoot: URL? = nil, strict: Bool = false) {
        self.captionSources = captionSources
        self.instanceFiles = instanceFiles
        self.karpathySplits = karpathySplits
        self.karpathyImageRoot = karpathyImageRoot
        self.strict = strict
    }

    /// Reads and validates every file.
    public func load() throws -> DatasetIndex {
        var collector = RecordCollector(strict: strict)
        for source in captionSources {
            try readCaptionFile(source, into: &collector)
        }
        if let karpathyURL = karpathySplits {
            let karpathy = try KarpathySplits.load(karpathyURL)
            if captionSources.isEmpty {
                try karpathy.addRecords(imageRoot: karpathyImageRoot ?? karpathyURL.deletingLastPathComponent(),
                                        into: &collector)
            } else {
                collector.images = collector.images.mapValues { image in
                    guard let split = karpathy.splitByImage[image.id] else { return image }
                    return DatasetImage(id: image.id, fileName: image.fileName, path: image.path,
                                        width: image.width, height: image.height, split: split)
                }
            }
        }
        var categories: [Int64: Category] = [:]
        var imageCategories: [Int64: Set<Int64>] = [:]
        for url in instanceFiles {
            try readInstanceFile(url, categories: &categories, imageCategories: &imageCategories)
        }
        return try collector.index(categories: categories.values.sorted { $0.id < $1.id },
                                   imageCategories: imageCategories.mapValues { $0.sorted() })
    }

    private func readCaptionFile(_ source: CaptionSource, into collector: inout RecordCollector) throws {
        let root = try JSONNode.load(source.annotations)
        for node in try root.member("images").elements() {
            let id = try node.member("id").int()
            let fileName = try node.member("file_name").string()
            let width = try node.optionalMember("width")?.int() ?? 0
            let height = try node.optionalMember("height")?.int() ?? 0
            try collector.addImage(node: node, id: id, fileName: fileName, folder: source.imageFolder,
                                   width: Int(width), height: Int(height), split: source.split)
        }
        for node in try root.member("annotations").elements() {
            let id = try node.member("id").int()
            let imageID = try node.member("image_id").int()
            let text = try node.member("caption").string()
            try collector.addCaption(node: node, id: id, imageID: imageID, text: text)
        }
    }

    private func readInstanceFile(_ url: URL, categories: inout [Int64: Category],
                                  imageCategories: inout [Int64: Set<Int64>]) throws {
        let root = try JSONNode.load(url)
        for node in try root.member("categories").elements() {
            let id = try node.member("id").int()
            categories[id] = Category(id: id, name: try node.member("name").string(),
                                      supercategory: try node.optionalMember("supercategory")?.string() ?? "")
        }
        for node in try root.member("annotations").elements() {
            let imageID = try node.member("image_id").int()
            let categoryID = try node.member("category_id").int()
            imageCategories[imageID, default: []].insert(categoryID)
        }
    }
}

/// Accumulates images and captions, enforcing the record-level rules.
struct RecordCollector {
    let strict: Bool
    var images: [Int64: DatasetImage] = [:]
    var captionIDs: Set<Int64> = []
    var pendingCaptions: [(node: JSONNode, caption: Caption)] = []
    var problems: [DataError] = []

    init(strict: Bool) { self.strict = strict }

    mutating func report(_ problem: DataError) throws {
        if strict { throw problem }
        problems.append(problem)
    }

    /// Whether a file name stays inside its folder: relative, no `..`, not empty.
    static func isSafe(fileName: String) -> Bool {
        guard !fileName.isEmpty, !fileName.hasPrefix("/"), !fileName.hasPrefix("~") else { return false }
        return !fileName.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0.isEmpty }
            && !fileName.contains("\\") && !fileName.contains("\0")
    }

    mutating func addImage(node: JSONNode, id: Int64, fileName: String, folder: URL,
                           width: Int, height: Int, split: String) throws {
        guard images[id] == nil else {
            return try report(.duplicateID(file: node.file, path: node.path + ".id", id: id))
        }
        guard RecordCollector.isSafe(fileName: fileName) else {
            return try report(.unsafeFileName(file: node.file, path: node.path + ".file_name", fileName: fileName))
        }
        images[id] = DatasetImage(id: id, fileName: fileName, path: folder.appendingPathComponent(fileName).path,
                                  width: width, height: height, split: split)
    }

    mutating func addCaption(node: JSONNode, id: Int64, imageID: Int64, text: String) throws {
        guard !captionIDs.contains(id) else {
            return try report(.duplicateID(file: node.file, path: node.path + ".id", id: id))
        }
        guard !text.allSatisfy({ $0.isWhitespace }) else {
            return try report(.emptyCaption(file: node.file, path: node.path + ".caption", captionID: id))
        }
        // Images may be listed in a later file, so unknown images are judged at the end.
        captionIDs.insert(id)
        pendingCaptions.append((node, Caption(id: id, imageID: imageID, text: text)))
    }

    mutating func index(categories: [Category], imageCategories: [Int64: [Int64]]) throws -> DatasetIndex {
        var kept: [Caption] = []
        kept.reserveCapacity(pendingCaptions.count)
        for (node, caption) in pendingCaptions {
            guard images[caption.imageID] != nil else {
                try report(.unknownImage(file: node.file, path: node.path + ".image_id", imageID: caption.imageID))
                continue
            }
            kept.append(caption)
        }
        let orderedImages = images.values.sorted { $0.id < $1.id }
        let orderedCaptions = kept.sorted { ($0.imageID, $0.id) < ($1.imageID, $1.id) }
        return DatasetIndex(images: orderedImages, captions: orderedCaptions, categories: categories,
                            imageCategories: imageCategories, problems: problems)
    }
}
