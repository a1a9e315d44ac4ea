import Foundation
import StrataCache
import StrataImage
import StrataModels
import StrataTensor
import StrataTestSupport
import StrataText
import Testing
@testable import StrataPipeline

/// A coco-mini cache built with the PyTorch fixture ResNet-50 and the real MiniLM holds what the
/// encoders return when run directly on the same preprocessed inputs.
@Suite(.serialized) struct BuildConformanceTests {
    @Test func cocoMiniFeaturesEqualDirectEncoderRuns() throws {
        let pipelineFile = SharedData.repositoryRoot.appendingPathComponent("pipelines/coco-mini-resnet50-minilm.yaml")
        _ = try SharedData.url("fixtures/torch/resnet50.safetensors")
        _ = try SharedData.url("models/all-MiniLM-L6-v2/model.safetensors")
        let config = try PipelineConfig.load(contentsOf: pipelineFile)
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipelineFile, cache: cache)
        #expect(!summary.stoppedEarly && summary.seededEncoders.isEmpty)

        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.images == 159)
        #expect(reader.manifest.counts.captions == 795)
        #expect(reader.manifest.counts.failures == 0)
        let splits = try summary.plan.shards.flatMap(\.images).map { try #require(try reader.image(id: $0.id)).split }
        #expect(Set(splits) == [.train, .val])

        // Images: every tenth, encoded alone.
        let imageEncoder = try #require(config.imageEncoder)
        let resnet = try EncoderLoader.imageEncoder(model: "resnet50", checkpoint: try #require(imageEncoder.checkpoint))
        let preprocessor = try ImagePreprocessor(options: config.preprocess)
        let imageLevels = LevelMapping.pyramidLevels(imageEncoder.levels)
        let images = summary.plan.shards.flatMap(\.images)
        for image in stride(from: 0, to: images.count, by: 10).map({ images[$0] }) {
            let pixels = try preprocessor.tensor(contentsOf: image.path)
            let outputs = try resnet.encode(pixels: try pixels.reshaped([1] + pixels.shape), levels: imageLevels)
            for (level, output) in zip(imageEncoder.levels, outputs) {
                let column = try reader.column("image/resnet50/\(level.name)")
                let stored = try #require(try reader.value(column: column.name, id: image.id))
                try expectClose(stored, output, column: column, what: "\(image.record.fileName) \(level.name)")
            }
        }

        // Captions: every twentieth, tokenized and encoded alone (no padding).
        let textEncoder = try #require(config.textEncoder)
        let minilm = try EncoderLoader.textEncoder(model: "bert", checkpoint: try #require(textEncoder.checkpoint))
        let tokenizer = try BertTokenizer(directory: try #require(config.tokenizer.path))
        let textLevels = LevelMapping.pyramidLevels(textEncoder.levels)
        let captions = summary.plan.shards.flatMap(\.captions)
        for caption in stride(from: 0, to: captions.count, by: 20).map({ captions[$0] }) {
            let encoding = try tokenizer.encode(caption.text, options: EncodingOptions(maxLength: config.tokenizer.maxLength))
            let shape = [1, encoding.count]
            let outputs = try minilm.encode(inputIDs: try Tensor(shape: shape, int32s: encoding.ids),
                                            attentionMask: try Tensor(shape: shape, int32s: encoding.attentionMask),
                                            tokenTypeIDs: try Tensor(shape: shape, int32s: encoding.typeIds), levels: textLevels)
            for (level, output) in zip(textEncoder.levels, outputs) {
                let column = try reader.column("text/bert/\(level.name)")
                let stored = try #require(try reader.value(column: column.name, id: caption.id))
                try expectClose(stored, output, column: column, what: "caption \(caption.id) \(level.name)")
            }
        }
    }

    /// f32 columns within PyTorch's 1e-4 relative tolerance; f16/bf16 columns within their rounding.
    private func expectClose(_ stored: Tensor, _ direct: Tensor, column: Manifest.Column, what: String) throws {
        let expected = try direct.reshaped(Array(direct.shape.dropFirst()))
        #expect(stored.shape == expected.shape, "\(what): \(stored.shape) vs \(expected.shape)")
        guard stored.shape == expected.shape else { return }
        let relative: Float = column.dtype == .f32 ? 1e-4 : (column.dtype == .f16 ? 1.5e-3 : 1e-2)
        let reference = expected.floats
        let difference = Conformance.maxAbsDifference(stored.converted(to: .f32).floats, reference)
        #expect(difference <= Conformance.tolerance(reference: reference, relative: relative), "\(what): max |a-b| \(difference)")
    }
}
