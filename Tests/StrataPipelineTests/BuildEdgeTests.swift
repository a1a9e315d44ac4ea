import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataPipeline

/// What a build says about its inputs and its result: preflight, the failure limit and `stats.json`.
@Suite(.serialized) struct BuildEdgeTests {
    static let sample = SharedData.repositoryRoot.appendingPathComponent("sample/coco-sample")

    /// A copy of the sample's image folder with only `keep` of its files, or garbage in every file.
    static func imageFolder(in folder: URL, name: String, keep: (String) -> Bool = { _ in true }, garbage: Bool = false) throws -> URL {
        let root = folder.appendingPathComponent(name)
        for split in ["train2017", "val2017"] {
            let target = root.appendingPathComponent(split)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: sample.appendingPathComponent(split).path) where keep(file) {
                let destination = target.appendingPathComponent(file)
                if garbage {
                    try Data("not an image".utf8).write(to: destination)
                } else {
                    try FileManager.default.copyItem(at: sample.appendingPathComponent(split).appendingPathComponent(file), to: destination)
                }
            }
        }
        return root
    }

    @Test func aWrongImageFolderFailsBeforeAnyEncoderNamingKeyPathAndBase() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Written relative to the pipeline file, misspelt.
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        let text = try String(contentsOf: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "images: \"\(Self.sample.path)\"", with: "images: coco-mimi")
        try text.write(to: pipeline, atomically: true, encoding: .utf8)
        let cache = folder.appendingPathComponent("cache")
        do {
            try BuildFixture.build(pipeline, cache: cache)
            Issue.record("a missing image folder was accepted")
        } catch let error as PipelineError {
            guard case let .inputMissing(file, key, path, written, base, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(file == pipeline.path && key == "dataset.images" && written == "coco-mimi")
            #expect(path == folder.appendingPathComponent("coco-mimi").path)
            #expect(base == folder.path + " (the pipeline file's folder)")
            #expect(error.description.contains("dataset.images: \(path) does not exist (\"coco-mimi\" resolved against \(folder.path)"))
        }
        // Nothing ran: no cache was started.
        #expect(!FileManager.default.fileExists(atPath: cache.appendingPathComponent("data.mdb").path))
    }

    @Test func aFolderWithoutTheDatasetsImagesFailsBeforeAnyEncoder() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // An existing folder holding only 2 of the 12 images.
        let partial = try Self.imageFolder(in: folder, name: "partial", keep: { $0 < "000000150000.jpg" })
        let pipeline = try BuildFixture.samplePipeline(in: folder, images: partial)
        #expect {
            try BuildFixture.build(pipeline, cache: folder.appendingPathComponent("cache"))
        } throws: { error in
            guard case let .inputMissing(_, key, path, _, base, reason)? = error as? PipelineError else { return false }
            return key == "dataset.images" && path == partial.path && base == nil
                && reason.contains("10 of 12 sampled files are missing or unreadable")
        }
        // A missing annotation file is named by its index.
        let missing = try BuildFixture.samplePipeline(in: folder, annotations: [folder.appendingPathComponent("captions_none.json")])
        #expect {
            try BuildFixture.build(missing, cache: folder.appendingPathComponent("cache2"))
        } throws: { error in
            guard case let .inputMissing(_, key, _, _, _, reason)? = error as? PipelineError else { return false }
            return key == "dataset.annotations[0]" && reason == "does not exist"
        }
        // A checkpoint named on the command line is checked too.
        var options = BuildOptions()
        options.imageCheckpoint = folder.appendingPathComponent("no-such-weights.safetensors")
        options.progress = nil
        #expect {
            try BuildRunner(config: try PipelineConfig.load(contentsOf: pipeline), provider: .standard, options: options).run()
        } throws: { error in
            guard case let .inputMissing(file, key, _, _, base, _)? = error as? PipelineError else { return false }
            return file == "command line" && key == "--image-checkpoint" && base == nil
        }
    }

    @Test func everyImageFailingEndsTheBuildAsFailedAfterCommitting() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let garbage = try Self.imageFolder(in: folder, name: "garbage", garbage: true)
        let pipeline = try BuildFixture.samplePipeline(in: folder, images: garbage)
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipeline, cache: cache)
        #expect(summary.failureLimitExceeded?.hasPrefix("every image failed (12 of 12)") == true)
        // What was written is committed: captions encoded, the images' failures recorded.
        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.failures == 12 && reader.manifest.counts.captions == summary.plan.captionCount)
        let stats = try Self.stats(cache)
        #expect(stats["ok"] as? Bool == false)
        #expect((stats["failures_by_reason"] as? [String: Int]) == ["unsupported": 12])
        #expect((stats["failure_limit"] as? [String: Any])?["exceeded"] as? String == summary.failureLimitExceeded)
    }

    @Test func maxFailuresCountsAndPercentages() throws {
        #expect(try FailureLimit(parsing: "3") == .count(3))
        #expect(try FailureLimit(parsing: "2.5%") == .percent(2.5))
        #expect(throws: PipelineError.self) { try FailureLimit(parsing: "many") }
        #expect(throws: PipelineError.self) { try FailureLimit(parsing: "120%") }
        #expect(FailureLimit.count(3).exceeded(failures: 3, imageFailures: 3, images: 10, inputs: 60) == nil)
        #expect(FailureLimit.count(3).exceeded(failures: 4, imageFailures: 4, images: 10, inputs: 60) == "4 inputs failed, more than --max-failures 3")
        #expect(FailureLimit.percent(5).exceeded(failures: 3, imageFailures: 3, images: 10, inputs: 60) == nil)
        #expect(FailureLimit.percent(5).exceeded(failures: 4, imageFailures: 4, images: 10, inputs: 60) != nil)
        #expect(FailureLimit.everyImage.exceeded(failures: 9, imageFailures: 9, images: 10, inputs: 60) == nil)
        #expect(FailureLimit.everyImage.exceeded(failures: 0, imageFailures: 0, images: 0, inputs: 0) == nil)
    }

    @Test func statsJsonDescribesTheBuild() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let odd = try SharedData.url("data/odd-images")
        let pipeline = try BuildFixture.samplePipeline(in: folder, extraImages: odd, commitEvery: 16)
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipeline, cache: cache, maxFailures: .count(1))
        let failed = summary.failures.count
        #expect(failed > 1 && summary.failureLimitExceeded == "\(failed) inputs failed, more than --max-failures 1")

        let stats = try Self.stats(cache)
        #expect(stats["state"] as? String == "complete" && stats["ok"] as? Bool == false)
        let counts = try #require(stats["counts"] as? [String: Int])
        #expect(counts["images"] == summary.manifest.counts.images && counts["captions"] == summary.manifest.counts.captions)
        #expect(counts["failures"] == failed && counts["transactions"] == summary.plan.shards.count)
        #expect(counts["images_this_run"] == summary.plan.imageCount)
        let reasons = try #require(stats["failures_by_reason"] as? [String: Int])
        #expect(reasons.values.reduce(0, +) == failed && reasons["unsupported"] != nil && reasons["other"] == nil)
        let stages = try #require(stats["stages"] as? [[String: Any]])
        #expect(stages.map { $0["name"] as? String } == ["decode", "batch", "encode_image", "tokenize", "encode_text", "write"])
        #expect(stages.allSatisfy { ($0["busy_seconds"] as? Double ?? -1) >= 0 && $0["items_per_second_per_worker"] is Double })
        #expect(stats["bound_by"] as? String == summary.boundBy?.name && summary.boundBy != nil)
        #expect((stats["wall_seconds"] as? Double ?? 0) > 0)
        let versions = try #require(stats["versions"] as? [String: Any])
        #expect(versions["strata"] as? String == StrataVersion.current && versions["cache_format"] as? Int == 1)
        #expect((versions["encoders"] as? [[String: Any]])?.map { $0["name"] as? String } == ["resnet50", "bert"])

        // The same build within its limit is ok, and a rerun that writes nothing rewrites the file.
        let again = try BuildFixture.build(pipeline, cache: cache, maxFailures: .percent(50))
        #expect(again.failureLimitExceeded == nil && again.imagesThisRun == 0)
        #expect(try Self.stats(cache)["ok"] as? Bool == true)
        #expect(!String(decoding: try Data(contentsOf: cache.appendingPathComponent("stats.json")), as: UTF8.self).contains("\\/"))
    }

    @Test func fixingTheImageFolderResumesTheCacheAndRetriesItsFailedImages() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let lost: Set<String> = ["000000165518.jpg", "000000349860.jpg", "000000126107.jpg"]
        let partial = try Self.imageFolder(in: folder, name: "partial", keep: { !lost.contains($0) })
        let cache = folder.appendingPathComponent("cache")
        let first = try BuildFixture.build(try BuildFixture.samplePipeline(in: folder, images: partial), cache: cache)
        #expect(first.failures.count == 3 && first.failuresByReason == ["unreadable": 3])

        // The folder fixed: not a changed pipeline; the three images are encoded and their failures gone.
        let fixed = try BuildFixture.samplePipeline(in: folder)
        let resumed = try BuildFixture.build(fixed, cache: cache)
        #expect(resumed.retried == (3, 0) && resumed.imagesThisRun == 0)
        #expect(resumed.failures.isEmpty && resumed.manifest.counts.failures == 0 && resumed.manifest.counts.batches == 3)
        #expect(resumed.manifest.pipeline == (try String(contentsOf: fixed, encoding: .utf8)))
        #expect(try Self.stats(cache)["counts"].flatMap { ($0 as? [String: Int])?["retried_images"] } == 3)

        // The retried images hold the features a build from the right folder gives (to rounding: they
        // were encoded in a batch of their own, and gemm sums depend on the batch's shape).
        let straight = folder.appendingPathComponent("straight")
        try BuildFixture.build(fixed, cache: straight)
        let a = try CacheReader(path: cache.path), b = try CacheReader(path: straight.path)
        #expect(try a.ids(column: "image/resnet50/pooled") == (try b.ids(column: "image/resnet50/pooled")))
        for id in first.failures.map(\.id) {
            for column in ["image/resnet50/pooled", "image/resnet50/c3"] {
                let retried = try #require(try a.value(column: column, id: id)).converted(to: .f32).floats
                let reference = try #require(try b.value(column: column, id: id)).converted(to: .f32).floats
                #expect(retried.count == reference.count)
                #expect(Conformance.maxAbsDifference(retried, reference) <= Conformance.tolerance(reference: reference, relative: 2e-3), "\(column) \(id)")
            }
        }
        // Resumed again with the fixed file: nothing to do.
        let again = try BuildFixture.build(fixed, cache: cache)
        #expect(again.retried == (0, 0) && again.imagesThisRun == 0)

        // A cache without failures is not re-pointed: the refusal lists the key, slashes unescaped.
        let moved = try BuildFixture.samplePipeline(in: folder, images: partial)
        do {
            try BuildFixture.build(moved, cache: straight)
            Issue.record("a moved image folder was accepted for a cache without failures")
        } catch let PipelineError.pipelineChanged(_, changes) {
            #expect(changes == ["dataset.images: \"\(Self.sample.path)\" → \"\(partial.path)\""])
        }
    }

    @Test func theCommandExitsThreeAndPrintsStatsWithJson() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let garbage = try Self.imageFolder(in: folder, name: "garbage", garbage: true)
        let pipeline = try BuildFixture.samplePipeline(in: folder, images: garbage)
        let cache = folder.appendingPathComponent("cache")
        let run = try ProgramRun.run(try BuiltProducts.strata(), ["build", pipeline.path, "--cache", cache.path, "--json", "--progress", "none"])
        let (printed, complaint) = (run.outputData, run.errors)
        #expect(run.status == 3 && !run.signalled)
        #expect(complaint.contains("build failed: every image failed (12 of 12)"), "\(complaint)")
        // --json prints what stats.json holds.
        let stats = try #require(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
        #expect(stats["ok"] as? Bool == false && (stats["counts"] as? [String: Int])?["failures"] == 12)
        #expect(printed == (try Data(contentsOf: cache.appendingPathComponent(BuildRunner.statsFileName))) + Data("\n".utf8))
    }

    static func stats(_ cache: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: cache.appendingPathComponent(BuildRunner.statsFileName))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
