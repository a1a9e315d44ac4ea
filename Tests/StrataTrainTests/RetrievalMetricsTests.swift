import Foundation
import Testing
@testable import StrataTrain

@Suite("Retrieval metrics and head configs")
struct RetrievalMetricsTests {
    /// Two images with two captions each; ranks worked out by hand.
    @Test func ranksFollowTheCOCOConvention() {
        // rows: images 0, 1; columns: captions 0, 1 (image 0) and 2, 3 (image 1).
        let scores: [Float] = [0.9, 0.1, 0.95, 0.2,
                               0.3, 0.8, 0.4, 0.5]
        let (imageRanks, textRanks) = RetrievalMetrics.ranks(scores: scores, images: 2, captionImage: [0, 0, 1, 1])
        // Image 0: caption 2 (other image) beats caption 0 → best own rank 2. Image 1: caption 1 (0.8)
        // beats both own captions (0.4, 0.5) → rank 2.
        #expect(imageRanks == [2, 2])
        // Caption 0: image 0 (0.9) vs image 1 (0.3) → 1; caption 1: 0.1 vs 0.8 → 2; caption 2: 0.4 vs 0.95 → 2;
        // caption 3: 0.5 vs 0.2 → 1.
        #expect(textRanks == [1, 2, 2, 1])
        let metrics = RetrievalMetrics(scores: scores, images: 2, captionImage: [0, 0, 1, 1])
        #expect(metrics.imageToText[1] == 0 && metrics.imageToText[5] == 1)
        #expect(metrics.textToImage[1] == 0.5 && metrics.textToImageMeanRank == 1.5)
        let expected: Double = 450
        #expect(metrics.rsum == expected)
    }

    /// Ranks against their definition counted out per caption, on scores with many ties, uneven caption
    /// counts and an image without captions.
    @Test func ranksEqualTheirDefinitionWithTies() {
        var state: UInt64 = 99
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        let images = 7
        let captionImage = (0..<23).map { _ in next(images - 1) }  // image 6 has none
        let captions = captionImage.count
        let scores = (0..<(images * captions)).map { _ in Float(next(5)) }
        let (imageRanks, textRanks) = RetrievalMetrics.ranks(scores: scores, images: images, captionImage: captionImage)
        for i in 0..<images {
            let own = (0..<captions).filter { captionImage[$0] == i }
            let best = own.map { t in
                1 + (0..<captions).filter { captionImage[$0] != i && scores[i * captions + $0] >= scores[i * captions + t] }.count
            }.min() ?? captions
            #expect(imageRanks[i] == best, "image \(i)")
        }
        for t in 0..<captions {
            let own = scores[captionImage[t] * captions + t]
            let rank = 1 + (0..<images).filter { $0 != captionImage[t] && scores[$0 * captions + t] >= own }.count
            #expect(textRanks[t] == rank, "caption \(t)")
        }
    }

    /// The configs shipped in heads/ parse, validate and survive the YAML round trip of checkpoints.
    @Test func shippedConfigsParse() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("heads")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["concat-mlp.yaml", "cross-attention.yaml", "decoupled.yaml", "projector.yaml", "pyramid.yaml"])
        var kinds = Set<HeadConfig.Kind>()
        for file in files {
            let config = try HeadConfig.load(path: directory.appendingPathComponent(file).path)
            kinds.insert(config.kind)
            #expect(try HeadConfig.parse(config.yaml()) == config, "\(file) round trip")
            #expect(config.imageColumns.allSatisfy { $0.hasPrefix("image/resnet50/") })
            #expect(config.textColumns.allSatisfy { $0.hasPrefix("text/bert/") })
        }
        #expect(kinds == Set(HeadConfig.Kind.allCases))
    }

    @Test func invalidConfigsAreRejected() {
        #expect(throws: TrainError.self) { try HeadConfig.parse("kind: projector\nimage: a\n") }
        #expect(throws: TrainError.self) { try HeadConfig.parse("kind: pyramid\n") }
        #expect(throws: TrainError.self) { try HeadConfig.parse("kind: nonsense\nimage: a\ntext: b\n") }
        #expect(throws: TrainError.self) { try HeadConfig.parse("kind: cross-attention\nimage: a\ntext: b\ndim: 30\nattention_heads: 8\n") }
    }
}
