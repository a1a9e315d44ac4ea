import Foundation

/// What `strata ingest` reports about a dataset: counts, and the files that are not where they should be.
public struct IngestSummary: Sendable, Codable, Equatable {
    /// Images listed by the annotations (after validation).
    public let images: Int
    /// Captions kept.
    public let captions: Int
    /// Listed images with no caption.
    public let imagesWithoutCaptions: Int
    /// Categories from instance files.
    public let categories: Int
    /// Images per split.
    public let splits: [String: Int]
    /// Paths of listed images that are not on disk.
    public let missingFiles: [String]
    /// Files in the image folders that no annotation names (images without any caption record).
    public let unlistedFiles: [String]
    /// Record-level problems, one line each.
    public let problems: [String]

    /// Summarises an index, checking that every listed image exists on disk.
    public init(index: DatasetIndex, fileManager: FileManager = .default) {
        images = index.images.count
        captions = index.captions.count
        imagesWithoutCaptions = index.imagesWithoutCaptions.count
        categories = index.categories.count
        splits = index.imagesPerSplit
        missingFiles = index.images.map(\.path).filter { !fileManager.fileExists(atPath: $0) }
        let listed = Set(index.images.map(\.path))
        let folders = Set(index.images.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().path })
        unlistedFiles = folders.sorted().flatMap { folder -> [String] in
            let names = (try? fileManager.contentsOfDirectory(atPath: folder)) ?? []
            return names.sorted().map { folder + "/" + $0 }.filter { !listed.contains($0) && !$0.hasPrefix(".") }
        }
        problems = index.problems.map(\.description)
    }
}
