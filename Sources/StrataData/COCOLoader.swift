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
/// Structural problems (unreadable file, invalid JSON, a top-level key missing or of the wrong type)
/// throw. Record-level problems (a record's field missing or of the wrong type, ids outside 0..<2^40,
/// sizes that are not positive pixel counts, duplicate ids, captions of unknown images, empty or
/// overlong captions, file names that are overlong, hold control characters or leave the image folder)
/// drop the record and are listed in `DatasetIndex.problems` with the file, the JSON path and the
/// value, or throw when `strict`.
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
        // A record whose fields are missing or of the wrong type is dropped (and listed), not the file.
        for node in try root.member("images").elements() {
            let fields: (id: Int64, fileName: String, width: Int64?, height: Int64?)
            do {
                fields = (try node.member("id").int(), try node.member("file_name").string(),
                          try node.optionalMember("width")?.int(), try node.optionalMember("height")?.int())
            } catch let problem as DataError {
                try collector.report(problem)
                continue
            }
            try collector.addImage(node: node, id: fields.id, fileName: fields.fileName, folder: source.imageFolder,
                                   width: fields.width, height: fields.height, split: source.split)
        }
        for node in try root.member("annotations").elements() {
            let fields: (id: Int64, imageID: Int64, text: String)
            do {
                fields = (try node.member("id").int(), try node.member("image_id").int(), try node.member("caption").string())
            } catch let problem as DataError {
                try collector.report(problem)
                continue
            }
            try collector.addCaption(node: node, id: fields.id, imageID: fields.imageID, text: fields.text)
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

    /// Image and caption ids are cache keys below 2^40 (`dataset.extra_images` are numbered from there).
    static let idLimit: Int64 = 1 << 40
    /// The largest width or height an annotation may give (JPEG's limit is 65535).
    static let maxSide: Int64 = 1 << 20
    /// The longest file name (UTF-8 bytes), and the longest component of it.
    static let maxFileNameBytes = 1024
    static let maxComponentBytes = 255
    /// The longest caption (UTF-8 bytes).
    static let maxCaptionBytes = 1 << 16

    /// A value as a problem shows it: short strings whole, long ones cut with their length.
    static func shown(_ text: String) -> String {
        let bytes = text.utf8.count
        guard bytes > 80 else { return "'\(text)'" }
        return "'\(text.prefix(40))...' (\(bytes) bytes)"
    }

    /// The problem with an id, or nil when it can be a cache key.
    func checkID(_ id: Int64, node: JSONNode, key: String) -> DataError? {
        guard id < 0 || id >= RecordCollector.idLimit else { return nil }
        return .invalidValue(file: node.file, path: node.path + "." + key, value: String(id),
                             reason: "ids must be in 0..<2^40 (\(RecordCollector.idLimit))")
    }

    /// The problem with a file name's length or characters, or nil.
    func checkFileName(_ fileName: String, node: JSONNode, key: String) -> DataError? {
        func bad(_ reason: String) -> DataError {
            .invalidValue(file: node.file, path: node.path + "." + key, value: RecordCollector.shown(fileName), reason: reason)
        }
        if fileName.utf8.count > RecordCollector.maxFileNameBytes {
            return bad("file names may have at most \(RecordCollector.maxFileNameBytes) bytes")
        }
        if fileName.split(separator: "/").contains(where: { $0.utf8.count > RecordCollector.maxComponentBytes }) {
            return bad("each part of a file name may have at most \(RecordCollector.maxComponentBytes) bytes")
        }
        if fileName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return bad("file names may not hold control characters")
        }
        return nil
    }

    mutating func addImage(node: JSONNode, id: Int64, fileName: String, folder: URL,
                           width: Int64?, height: Int64?, split: String) throws {
        if let problem = checkID(id, node: node, key: "id") { return try report(problem) }
        for (key, value) in [("width", width), ("height", height)] {
            guard let value, value < 1 || value > RecordCollector.maxSide else { continue }
            return try report(.invalidValue(file: node.file, path: node.path + "." + key, value: String(value),
                                            reason: "a \(key) is a pixel count in 1...\(RecordCollector.maxSide)"))
        }
        guard images[id] == nil else {
            return try report(.duplicateID(file: node.file, path: node.path + ".id", id: id))
        }
        if let problem = checkFileName(fileName, node: node, key: "file_name") { return try report(problem) }
        guard RecordCollector.isSafe(fileName: fileName) else {
            return try report(.unsafeFileName(file: node.file, path: node.path + ".file_name", fileName: fileName))
        }
        images[id] = DatasetImage(id: id, fileName: fileName, path: folder.appendingPathComponent(fileName).path,
                                  width: Int(width ?? 0), height: Int(height ?? 0), split: split)
    }

    mutating func addCaption(node: JSONNode, id: Int64, imageID: Int64, text: String) throws {
        if let problem = checkID(id, node: node, key: "id") ?? checkID(imageID, node: node, key: "image_id") {
            return try report(problem)
        }
        guard !captionIDs.contains(id) else {
            return try report(.duplicateID(file: node.file, path: node.path + ".id", id: id))
        }
        guard !text.allSatisfy({ $0.isWhitespace }) else {
            return try report(.emptyCaption(file: node.file, path: node.path + ".caption", captionID: id))
        }
        guard text.utf8.count <= RecordCollector.maxCaptionBytes else {
            return try report(.invalidValue(file: node.file, path: node.path + ".caption", value: RecordCollector.shown(text),
                                            reason: "captions may have at most \(RecordCollector.maxCaptionBytes) bytes"))
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
