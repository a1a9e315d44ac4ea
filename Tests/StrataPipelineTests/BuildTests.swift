import Foundation
import StrataCache
import StrataTensor
import StrataTestSupport
import StrataText
import Testing
@testable import StrataPipeline

/// `strata build` on the bundled sample: contents, determinism, resume and refusal.
@Suite(.serialized) struct BuildTests {
    @Test func sampleBuildHoldsEveryImageCaptionAndLevel() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipeline, cache: cache)
        #expect(!summary.stoppedEarly)
        #expect(summary.seededEncoders == ["resnet50", "bert"])

        let reader = try CacheReader(path: cache.path)
        let manifest = reader.manifest
        #expect(manifest.counts.images == 12)
        #expect(manifest.counts.captions == summary.plan.captionCount)
        #expect(manifest.counts.failures == 0)
        #expect(manifest.counts.batches == 3)
        let shapes = Dictionary(uniqueKeysWithValues: manifest.columns.map { ($0.name, $0.shape) })
        #expect(shapes["image/resnet50/c3"] == [512, 2, 2])
        #expect(shapes["image/resnet50/c5"] == [2048, 2, 2])
        #expect(shapes["image/resnet50/pooled"] == [2048])
        #expect(shapes["text/bert/tokens"] == [nil, 32])
        #expect(shapes["text/bert/layer1"] == [nil, 32])
        #expect(shapes["text/bert/mean"] == [32])
        #expect(manifest.encoders.allSatisfy { $0.checkpoint.hasPrefix("seeded:") && $0.weightsSHA256.count == 64 })
        #expect(manifest.encoders.allSatisfy { $0.gemm == GemmBackend.recordedName })
        #expect(manifest.preprocessing?.resize == 64 && manifest.preprocessing?.crop == [56, 56])

        // Every caption keeps its text and token ids, and its token levels one row per token.
        let tokenizer = try BertTokenizer(directory: SharedData.repositoryRoot.appendingPathComponent("sample/bert-base-uncased-vocab"))
        let images = Set(try reader.ids(column: "image/resnet50/pooled"))
        #expect(images.count == 12)
        for caption in summary.plan.shards.flatMap(\.captions) {
            let record = try #require(try reader.caption(id: caption.id))
            #expect(record.text == caption.text && record.imageID == caption.imageID)
            let expected = try tokenizer.encode(caption.text, options: EncodingOptions(maxLength: 32)).ids
            #expect(record.tokenIDs == expected)
            let tokens = try #require(try reader.value(column: "text/bert/tokens", id: caption.id))
            #expect(tokens.shape == [expected.count, 32])
            #expect(images.contains(caption.imageID))
        }
    }

    @Test func workerCountsAndRerunsLeaveTheSameBytes() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        var one = PipelineConfig.Workers()
        (one.decode, one.imageEncoder, one.textEncoder, one.tokenize) = (1, 1, 1, 1)
        var many = PipelineConfig.Workers()
        (many.decode, many.imageEncoder, many.textEncoder, many.tokenize, many.queueDepth) = (3, 2, 2, 2, 1)
        let first = folder.appendingPathComponent("one"), second = folder.appendingPathComponent("many")
        try BuildFixture.build(pipeline, cache: first, workers: one)
        try BuildFixture.build(pipeline, cache: second, workers: many)
        let bytes = try BuildFixture.dataFile(first)
        #expect(bytes == (try BuildFixture.dataFile(second)))
        if GemmBackend.usesStrataKernels {
            // Strata's kernels sum every element in the same order however many threads share a product.
            var threaded = many
            threaded.blasThreads = 2
            let third = folder.appendingPathComponent("threaded")
            try BuildFixture.build(pipeline, cache: third, workers: threaded)
            #expect(bytes == (try BuildFixture.dataFile(third)))
        }

        // A rerun finds everything committed and writes nothing; more workers may resume a cache.
        let again = try BuildFixture.build(pipeline, cache: first, workers: many)
        #expect(again.firstShard == again.plan.shards.count && again.imagesThisRun == 0)
        #expect(try BuildFixture.dataFile(first) == bytes)
    }

    @Test func stoppedBuildResumesToTheSameCache() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        let straight = folder.appendingPathComponent("straight"), resumed = folder.appendingPathComponent("resumed")
        try BuildFixture.build(pipeline, cache: straight)

        // Stopped right after the first of three transactions commits, then resumed from there.
        let stop = StopFlag()
        let stopped = try BuildFixture.build(pipeline, cache: resumed, stop: stop) { committed in
            if committed == 1 { stop.raise() }
        }
        #expect(stopped.stoppedEarly && stopped.committedShards == 1)
        #expect(try CacheReader(path: resumed.path).manifest.counts.batches == 1)
        let finished = try BuildFixture.build(pipeline, cache: resumed)
        #expect(!finished.stoppedEarly && finished.committedShards == 3)
        #expect(try BuildFixture.dataFile(straight) == (try BuildFixture.dataFile(resumed)))
    }

    @Test func changedPipelineIsRefusedNamingTheChange() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache")
        try BuildFixture.build(try BuildFixture.samplePipeline(in: folder, commitEvery: 8), cache: cache)
        let changed = try BuildFixture.samplePipeline(in: folder, batchImages: 2, commitEvery: 8)
        do {
            try BuildFixture.build(changed, cache: cache)
            Issue.record("a changed pipeline was accepted")
        } catch let PipelineError.pipelineChanged(path, changes) {
            #expect(path == cache.path)
            #expect(changes == ["batch.images: 4 → 2"])
        }
    }

    @Test func spellingOutDefaultsIsNoChange() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache")
        let original = try BuildFixture.samplePipeline(in: folder, commitEvery: 8)
        try BuildFixture.build(original, cache: cache)
        let text = try String(contentsOf: original, encoding: .utf8)
        let explicit = folder.appendingPathComponent("explicit.yaml")
        try text.replacingOccurrences(of: "preprocess: {resize: 64, crop: 56}",
                                      with: "preprocess: {resize: 64, crop: 56, interpolation: bilinear, mode: exact}")
            .write(to: explicit, atomically: true, encoding: .utf8)
        let again = try BuildFixture.build(explicit, cache: cache)
        #expect(again.imagesThisRun == 0 && again.firstShard == again.plan.shards.count)
        // The cache keeps the pipeline text it was started with.
        #expect(try CacheReader(path: cache.path).manifest.pipeline == text)
    }

    @Test func undecodableFilesAreRecordedAndTheBuildGoesOn() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let odd = try SharedData.url("data/odd-images")
        let pipeline = try BuildFixture.samplePipeline(in: folder, extraImages: odd, commitEvery: 16)
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipeline, cache: cache)
        #expect(!summary.stoppedEarly)

        let reader = try CacheReader(path: cache.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: odd.path).filter { !$0.hasPrefix(".") }
        #expect(reader.manifest.counts.images == 12 + files.count)
        let failures = try reader.failures()
        let encoded = Set(try reader.ids(column: "image/resnet50/pooled"))
        // Every image is either encoded or recorded as a failure, never both.
        for shard in summary.plan.shards {
            for image in shard.images {
                let failed = failures.contains { $0.modality == .image && $0.id == image.id }
                #expect(failed != encoded.contains(image.id), "\(image.record.fileName)")
            }
        }
        let failedNames = Set(failures.compactMap { failure in
            summary.plan.shards.flatMap(\.images).first { $0.id == failure.id }?.record.fileName
        })
        for name in ["skimage_anim.gif", "skimage_multipage.tif", "pillow_truncated_jpeg.jpg"] {
            #expect(failedNames.contains(name), "\(name) should be recorded as a failure")
            #expect(summary.report.contains(name), "the summary names \(name)")
        }
        #expect(failures.allSatisfy { failure in failedNames.contains { failure.reason.contains($0) } })
    }
}
