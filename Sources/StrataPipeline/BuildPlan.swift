import Foundation
import StrataCache
import StrataData

/// What a build writes, in the order it writes it: the dataset's images sorted by id with their
/// captions, cut into shards of `batch.commit_every` images. Shard `k` is the cache's `k`-th
/// transaction, so a resumed build skips exactly the shards the cache already holds.
public struct BuildPlan: Sendable {
    /// One image to encode.
    public struct Image: Sendable, Equatable {
        /// The cache key.
        public var id: UInt64
        /// The file to read.
        public var path: String
        /// What the `images` table records.
        public var record: ImageRecord
    }

    /// One caption to encode.
    public struct Caption: Sendable, Equatable {
        /// The cache key.
        public var id: UInt64
        /// The image it describes.
        public var imageID: UInt64
        /// The text as written in the dataset.
        public var text: String
    }

    /// The images of one transaction and their captions.
    public struct Shard: Sendable {
        /// Position in the build: the cache's transaction number.
        public var index: Int
        /// Images, by increasing id.
        public var images: [Image]
        /// The captions of those images, by increasing image id then caption id.
        public var captions: [Caption]
    }

    /// Ids of images from `dataset.extra_images` start here, far above COCO's ids.
    public static let extraImageIDBase: UInt64 = 1 << 40

    /// The shards, in commit order.
    public var shards: [Shard]
    /// Problems found while reading the annotations (records that were dropped).
    public var problems: [String]

    /// Images in the plan.
    public var imageCount: Int { shards.reduce(0) { $0 + $1.images.count } }
    /// Captions in the plan.
    public var captionCount: Int { shards.reduce(0) { $0 + $1.captions.count } }

    /// Reads the pipeline's dataset files and cuts the result into shards.
    public static func make(_ config: PipelineConfig) throws -> BuildPlan {
        let dataset = config.dataset
        let loader = DatasetLoader(captionSources: dataset.annotations.map { CaptionSource(annotations: $0, imageRoot: dataset.images) },
                                   instanceFiles: dataset.instances, karpathySplits: dataset.karpathy,
                                   karpathyImageRoot: dataset.karpathy == nil ? nil : dataset.images)
        var index: DatasetIndex
        do {
            index = try loader.load()
        } catch {
            throw PipelineError.buildFailed(reason: "\(error)")
        }
        if let splits = dataset.splits { index = index.filtered(splits: Set(splits)) }

        var images = index.images.sorted { $0.id < $1.id }
        if let limit = dataset.limit { images = Array(images.prefix(limit)) }
        var planned: [Image] = []
        var problems = index.problems.map { "\($0)" }
        planned.reserveCapacity(images.count)
        for image in images {
            // The loader drops such records already; an index made elsewhere is held to the same rule.
            guard image.id >= 0, UInt64(image.id) < extraImageIDBase else {
                problems.append("image id \(image.id) (\(image.fileName)) is outside 0..<2^40: dropped")
                continue
            }
            planned.append(Image(id: UInt64(image.id), path: image.path,
                                 record: ImageRecord(fileName: image.fileName, width: image.width, height: image.height,
                                                     split: split(named: image.split))))
        }
        let extra = try extraFiles(dataset.extraImages)
        for (offset, file) in extra.enumerated() {
            planned.append(Image(id: extraImageIDBase + UInt64(offset), path: file.path,
                                 record: ImageRecord(fileName: file.lastPathComponent, width: 0, height: 0, split: .unassigned)))
        }

        let kept = Set(planned.map(\.id))
        let captionsByImage = Dictionary(grouping: index.captions.filter { $0.imageID >= 0 && kept.contains(UInt64($0.imageID)) },
                                         by: { UInt64($0.imageID) })
        let perShard = max(1, config.batch.commitEvery)
        var shards: [Shard] = []
        var start = 0
        while start < planned.count {
            let slice = Array(planned[start..<min(start + perShard, planned.count)])
            var captions: [Caption] = []
            for image in slice {
                for caption in (captionsByImage[image.id] ?? []).sorted(by: { $0.id < $1.id }) where caption.id >= 0 {
                    captions.append(Caption(id: UInt64(caption.id), imageID: image.id, text: caption.text))
                }
            }
            shards.append(Shard(index: shards.count, images: slice, captions: captions))
            start += perShard
        }
        return BuildPlan(shards: shards, problems: problems)
    }

    /// `train2017`, `train` → `.train`; `val2017` → `.val`; anything unknown → `.unassigned`.
    static func split(named name: String) -> Split {
        let lower = name.lowercased()
        if lower.hasPrefix("restval") { return .restval }
        if lower.hasPrefix("train") { return .train }
        if lower.hasPrefix("val") { return .val }
        if lower.hasPrefix("test") { return .test }
        return .unassigned
    }

    /// Every regular file of the given folders (sorted by name), or the files themselves.
    static func extraFiles(_ locations: [URL]) throws -> [URL] {
        var files: [URL] = []
        for location in locations {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory) else {
                throw PipelineError.buildFailed(reason: "dataset.extra_images: \(location.path) does not exist")
            }
            if !isDirectory.boolValue {
                files.append(location)
                continue
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: location.path).sorted()
            for name in names where !name.hasPrefix(".") {
                let file = location.appendingPathComponent(name)
                var nested: ObjCBool = false
                if FileManager.default.fileExists(atPath: file.path, isDirectory: &nested), !nested.boolValue {
                    files.append(file)
                }
            }
        }
        return files
    }
}
