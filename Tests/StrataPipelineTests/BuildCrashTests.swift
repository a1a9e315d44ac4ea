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
        #expect(try runBuild(strata, pipeline, straight, kill: nil) == .completed)
        let expected = try BuildFixture.dataFile(straight)

        let interrupted = folder.appendingPathComponent("interrupted")
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var generator = SplitMix64(seed: seed)
        var kills = 0, rounds = 0, finished = false
        var shardsSeen: [Int] = []
        while rounds < 60 {
            rounds += 1
            // Most kills land while shards are being written; every fourth while weights load.
            let kill: Kill? = kills >= 10 ? nil
                : rounds % 4 == 0 ? .afterStart(Double(generator.next() % 1500) / 1000)
                : .afterCommit(Double(generator.next() % 500) / 1000)
            let outcome = try runBuild(strata, pipeline, interrupted, kill: kill)
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

    private func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    enum Outcome: Equatable { case completed, killed, failed(Int32) }

    /// When to send SIGKILL: seconds after the process started, or after it first committed a transaction.
    enum Kill { case afterStart(Double), afterCommit(Double) }

    private func runBuild(_ strata: URL, _ pipeline: URL, _ cache: URL, kill: Kill?) throws -> Outcome {
        let process = Process()
        process.executableURL = strata
        process.arguments = ["build", pipeline.path, "--cache", cache.path, "--progress", "none"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        switch kill {
        case nil:
            break
        case let .afterStart(delay):
            Thread.sleep(forTimeInterval: delay)
        case let .afterCommit(delay):
            // Waits until this process has committed a transaction (the data file changed).
            let data = cache.appendingPathComponent("data.mdb").path
            let before = modificationDate(data)
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && modificationDate(data) == before && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.005)
            }
            Thread.sleep(forTimeInterval: delay)
        }
        if kill != nil { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal { return .killed }
        return process.terminationStatus == 0 ? .completed : .failed(process.terminationStatus)
    }
}

