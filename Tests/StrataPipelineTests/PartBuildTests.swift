import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataPipeline

/// coco-mini built as 3 parts (out of order, one killed and resumed), merged into the cache one build
/// writes, byte for byte; parts that are missing, incomplete or from another build are refused by name.
@Suite(.serialized) struct PartBuildTests {
    /// The coco-mini pipeline with seeded encoders, 4 images per transaction (40 shards).
    static func pipeline(in folder: URL) throws -> URL {
        let mini = try SharedData.url("data/coco-mini")
        return try BuildFixture.samplePipeline(
            in: folder, annotations: ["train2017", "val2017"].map { mini.appendingPathComponent("annotations/captions_\($0).json") },
            images: mini, commitEvery: 4)
    }

    static func sha(_ cache: URL) throws -> String {
        try SHA256.hex(ofFileAt: cache.appendingPathComponent("data.mdb"))
    }

    @Test func partsMergeIntoTheCacheOneBuildWrites() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try PartBuildTests.pipeline(in: folder)
        let whole = folder.appendingPathComponent("whole")
        try BuildFixture.build(pipeline, cache: whole)
        let expected = try BuildFixture.dataFile(whole)

        let cache = folder.appendingPathComponent("split")
        let parts = (0..<3).map { PartMerge.partFolder(of: cache, index: $0, count: 3) }
        // Part 2 first; then part 0, killed after its first commit; then part 1; then part 0 resumed.
        let summary = try BuildFixture.build(pipeline, cache: cache, part: try BuildPart(index: 2, count: 3))
        #expect(summary.cache == parts[2].path)
        #expect(summary.manifest.part?.shards.map(\.shard) == Array(stride(from: 2, to: 40, by: 3)))
        let strata = try BuiltProducts.strata()
        let killed = try BuildFixture.runBuild(strata, pipeline, parts[0], kill: .afterShards(1),
                                               arguments: ["--part", "0/3", "--part-cache", parts[0].path])
        #expect(killed == .killed, "the part finished before it could be killed")
        let committed = try CacheReader(path: parts[0].path).manifest.counts.batches
        #expect(committed >= 1 && committed < 14)
        try BuildFixture.build(pipeline, cache: cache, part: try BuildPart(index: 1, count: 3))
        #expect(throws: CacheError.partRefused(path: parts[0].path, reason: "part 0-of-3 is incomplete: \(committed) of its 14 shards are committed; run its build again (strata build PIPELINE --part 0/3) to finish it")) {
            try PartMerge.merge(parts: parts, into: cache)
        }
        let resumed = try BuildFixture.build(pipeline, cache: cache, part: try BuildPart(index: 0, count: 3))
        #expect(resumed.firstShard == committed && !resumed.stoppedEarly)
        let partHashes = try parts.map(PartBuildTests.sha)

        // A merge stopped after 5 shards and resumed ends with the same bytes.
        var asked = 0
        let stopped = try PartMerge.merge(parts: try PartMerge.discover(cache: cache), into: cache, shouldStop: {
            asked += 1
            return asked > 5
        })
        #expect(stopped.committedShards == 5 && !stopped.isComplete)
        let merged = try PartMerge.merge(parts: try PartMerge.discover(cache: cache), into: cache)
        #expect(merged.firstShard == 5 && merged.isComplete && merged.totalShards == 40)
        #expect(try BuildFixture.dataFile(cache) == expected, "the merged data.mdb differs from the single build's")
        #expect(try parts.map(PartBuildTests.sha) == partHashes, "the merge changed a part")
        #expect(try CacheVerifier.verify(try CacheReader(path: cache.path)).isEmpty)
        #expect(try CacheReader(path: cache.path).manifest.part == nil)
    }

    @Test func missingAndForeignPartsAreRefusedByName() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try PartBuildTests.pipeline(in: folder)
        let cache = folder.appendingPathComponent("split")
        let parts = (0..<3).map { PartMerge.partFolder(of: cache, index: $0, count: 3) }
        for index in [0, 2] { try BuildFixture.build(pipeline, cache: cache, part: try BuildPart(index: index, count: 3)) }
        #expect(throws: CacheError.partsMissing(names: ["1-of-3"], looked: [parts[1].path])) {
            try PartMerge.merge(parts: try PartMerge.discover(cache: cache), into: cache,
                                lookedFor: { PartMerge.partFolder(of: cache, index: $0, count: $1).path })
        }
        // Part 1 of a build whose text encoder has other weights.
        let other = folder.appendingPathComponent("other.yaml")
        try String(contentsOf: pipeline, encoding: .utf8).replacingOccurrences(of: "seed: 4", with: "seed: 5")
            .write(to: other, atomically: true, encoding: .utf8)
        let foreign = folder.appendingPathComponent("foreign")
        var options = BuildOptions()
        options.part = try BuildPart(index: 1, count: 3)
        options.partCache = foreign
        options.progress = nil
        options.log = { _ in }
        _ = try BuildRunner(config: try PipelineConfig.load(contentsOf: other), provider: .standard, options: options).run()
        do {
            _ = try PartMerge.merge(parts: [parts[0], foreign, parts[2]], into: folder.appendingPathComponent("out"))
            Issue.record("a foreign part was merged")
        } catch let CacheError.partRefused(path, reason) {
            #expect(path == foreign.path)
            #expect(reason.contains("part 1-of-3 is from a different build than part 0-of-3"), "\(reason)")
            #expect(reason.contains("the pipeline files differ") && reason.contains("bert weights"), "\(reason)")
        }
        // A whole cache, a part given twice and a part of another split are refused too.
        #expect(throws: CacheError.partRefused(path: parts[2].path, reason: "part 2-of-3 is given twice (also \(parts[2].path))")) {
            try PartMerge.merge(parts: [parts[0], parts[2], parts[2]], into: folder.appendingPathComponent("out"))
        }
        let lone = folder.appendingPathComponent("lone")
        try BuildFixture.build(pipeline, cache: cache, part: try BuildPart(index: 0, count: 1))
        let single = PartMerge.partFolder(of: cache, index: 0, count: 1)
        #expect(throws: CacheError.partRefused(path: single.path, reason: "it is part 0-of-1, of a build split into 1 parts; the others are of 3")) {
            try PartMerge.merge(parts: [parts[0], single, parts[2]], into: lone)
        }
        #expect(throws: CacheError.self) { try PartMerge.discover(cache: cache) }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out/data.mdb").path))
    }

    @Test func partsAreNamedFromTheCommandLineOrASlurmArrayTask() throws {
        #expect(try BuildPart(parsing: "2/3") == BuildPart(index: 2, count: 3))
        #expect(throws: PipelineError.self) { try BuildPart(parsing: "3/3") }
        #expect(throws: PipelineError.self) { try BuildPart(parsing: "1-3") }
        #expect(try BuildPart.slurmArrayTask([:]) == nil)
        #expect(try BuildPart.slurmArrayTask(["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"]) == BuildPart(index: 1, count: 3))
        #expect(try BuildPart.slurmArrayTask(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"])
                == BuildPart(index: 2, count: 3))
        #expect(throws: PipelineError.self) { try BuildPart.slurmArrayTask(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3"]) }
        #expect(throws: PipelineError.self) {
            try BuildPart.slurmArrayTask(["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_STEP": "2"])
        }
    }
}
