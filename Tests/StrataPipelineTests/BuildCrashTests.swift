import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataPipeline

/// Kills `strata build` with SIGKILL at random moments (loading weights, decoding, encoding,
/// committing), reruns it each time, and checks the finished cache is byte for byte the one an
/// uninterrupted build writes.
@Suite(.serialized) struct BuildCrashTests {
    @Test func killedAndResumedBuildsEqualAnUninterruptedOne() throws {
        let strata = try BuiltProducts.strata()
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let mini = try SharedData.url("data/coco-mini")
        let pipeline = try BuildFixture.samplePipeline(
            in: folder, annotations: ["train2017", "val2017"].map { mini.appendingPathComponent("annotations/captions_\($0).json") },
            images: mini, commitEvery: 4)
        // Larger inputs than the other tests use, so a build lasts long enough to be killed often.
        let text = try String(contentsOf: pipeline, encoding: .utf8).replacingOccurrences(of: "{resize: 64, crop: 56}", with: "{resize: 72, crop: 64}")
        try text.write(to: pipeline, atomically: true, encoding: .utf8)

        let straight = folder.appendingPathComponent("straight")
        #expect(try BuildFixture.runBuild(strata, pipeline, straight, kill: nil) == .completed)
        let expected = try BuildFixture.dataFile(straight)

        let interrupted = folder.appendingPathComponent("interrupted")
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var generator = SplitMix64(seed: seed)
        var kills = 0, rounds = 0, finished = false
        var shardsSeen: [Int] = []
        while rounds < 60 {
            rounds += 1
            // Most kills land while shards are being written; every fourth while weights load.
            let kill: BuildFixture.Kill? = kills >= 10 ? nil
                : rounds % 4 == 0 ? .afterStart(Double(generator.next() % 1500) / 1000)
                : .afterCommit(Double(generator.next() % 500) / 1000)
            let outcome = try BuildFixture.runBuild(strata, pipeline, interrupted, kill: kill)
            if outcome == .completed {
                #expect(try BuildFixture.dataFile(interrupted) == expected, "seed \(seed): the resumed cache differs")
                if kills >= 10 {
                    finished = true
                    break
                }
                // Finished before enough kills (a fast machine): start over and keep killing.
                try FileManager.default.removeItem(at: interrupted)
                continue
            }
            if case let .failed(status) = outcome { Issue.record("strata build exited with status \(status) (seed \(seed))") }
            if outcome == .killed { kills += 1 }
            // After every kill the cache opens, verifies and holds whole transactions only.
            // A kill before the first commit leaves no manifest; any other failure to open is a defect.
            if FileManager.default.fileExists(atPath: interrupted.appendingPathComponent("data.mdb").path) {
                do {
                    let reader = try CacheReader(path: interrupted.path)
                    #expect(try CacheVerifier.verify(reader).isEmpty, "seed \(seed), round \(rounds)")
                    #expect(reader.manifest.counts.images == min(159, reader.manifest.counts.batches * 4), "seed \(seed)")
                    shardsSeen.append(reader.manifest.counts.batches)
                } catch CacheError.manifestMissing {
                    continue
                }
            }
        }
        #expect(finished, "the build never finished after its kills (seed \(seed))")
        #expect(kills >= 10, "only \(kills) builds were killed while running (seed \(seed))")
        #expect(Set(shardsSeen).count >= 5, "kills landed at too few points: \(shardsSeen) (seed \(seed))")
    }
}

