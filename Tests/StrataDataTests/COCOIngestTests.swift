import Foundation
import Testing
import StrataTestSupport
@testable import StrataData

/// Ingestion of the real coco-mini files, checked against what pycocotools reports for them.
@Suite struct COCOIngestTests {
    struct Golden: Decodable {
        let images: Int
        let captions: Int
        let images_without_captions: Int
        let missing_files: [String]
        let first_image_ids: [Int64]
        let captions_of_first_image: [Int64]
        let categories: Int
        let images_with_instances: Int
    }

    static let goldens: [String: Golden] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/pycocotools_counts.json")
        guard let data = try? Data(contentsOf: url),
              let decoded = try? JSONDecoder().decode([String: Golden].self, from: data) else { return [:] }
        return decoded
    }()

    @Test(arguments: ["train2017", "val2017"])
    func countsEqualPycocotools(split: String) throws {
        let golden = try #require(Self.goldens[split], "Fixtures/pycocotools_counts.json is missing or unreadable")
        let root = try SharedData.url("data/coco-mini")
        let source = CaptionSource(annotations: root.appendingPathComponent("annotations/captions_\(split).json"),
                                   imageRoot: root)
        let loader = DatasetLoader(captionSources: [source],
                                   instanceFiles: [root.appendingPathComponent("annotations/instances_\(split).json")])
        let index = try loader.load()
        let summary = IngestSummary(index: index)
        #expect(summary.images == golden.images)
        #expect(summary.captions == golden.captions)
        #expect(summary.imagesWithoutCaptions == golden.images_without_captions)
        #expect(summary.missingFiles.map { URL(fileURLWithPath: $0).lastPathComponent } == golden.missing_files)
        #expect(summary.categories == golden.categories)
        #expect(index.imageCategories.count == golden.images_with_instances)
        #expect(Array(index.images.prefix(5).map(\.id)) == golden.first_image_ids)
        #expect(index.captions.prefix(5).map(\.id) == golden.captions_of_first_image)
        #expect(index.images.allSatisfy { $0.split == split })
        #expect(source.imageFolder.lastPathComponent == split)
        #expect(summary.problems.isEmpty)
    }

    @Test func bothSplitsTogetherKeepIdsUniqueAndOrdered() throws {
        let root = try SharedData.url("data/coco-mini")
        let sources = ["train2017", "val2017"].map {
            CaptionSource(annotations: root.appendingPathComponent("annotations/captions_\($0).json"), imageRoot: root)
        }
        let index = try DatasetLoader(captionSources: sources).load()
        #expect(index.images.count == 159)
        #expect(index.captions.count == 795)
        #expect(index.images.map(\.id) == index.images.map(\.id).sorted())
        #expect(index.imagesPerSplit == ["train2017": 80, "val2017": 79])
        #expect(index.images.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        // val2017 holds 80 files that no caption annotation names.
        let unlisted = IngestSummary(index: index).unlistedFiles
        #expect(unlisted.count == 80)
        #expect(unlisted.allSatisfy { $0.contains("/val2017/") })
    }
}
