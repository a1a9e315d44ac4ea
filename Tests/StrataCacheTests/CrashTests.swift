import Foundation
import Testing
import StrataTensor
@testable import StrataCache
import StrataTestSupport

/// Kills a writing `strata-dev write-synthetic-cache` process with SIGKILL at random moments and checks that the cache always
/// opens, verifies, and holds exactly the batches committed before the kill.
@Suite struct CrashTests {
    static let batchSize = 16

    @Test func killedWritersLeaveExactlyTheCommittedBatches() throws {
        let strataDev = try Programs.strataDev()
        let cache = try TemporaryCache()
        var seed = UInt64.random(in: 0...UInt64.max)
        let recordedSeed = seed
        var generator = SplitMix64(seed: seed)
        var committedBefore = 0
        var kills = 0
        var progressingRounds = 0
        for round in 0..<24 {
            let process = Process()
            process.executableURL = strataDev
            process.arguments = ["write-synthetic-cache", cache.path, "--batches", "100000",
                                 "--batch-size", String(CrashTests.batchSize), "--map-size", "65536"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // From before the environment is open to deep inside a run of commits.
            let delay = 0.002 + Double(generator.next() % 1000) / 1000 * 0.25
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let lastPrinted = printed.split(separator: "\n").last.flatMap { Int($0.split(separator: " ").last ?? "") } ?? committedBefore
            if process.terminationReason == .uncaughtSignal { kills += 1 }

            guard FileManager.default.fileExists(atPath: cache.url.appendingPathComponent("data.mdb").path) else { continue }
            let reader: CacheReader
            do {
                reader = try CacheReader(path: cache.path)
            } catch CacheError.manifestMissing {
                // Killed before the first transaction (tables and manifest) committed: nothing to hold yet.
                #expect(committedBefore == 0 && lastPrinted == 0, "round \(round), seed \(recordedSeed)")
                continue
            }
            let batches = reader.manifest.counts.batches
            // Every batch reported committed is there; at most one more (committed, not yet reported).
            #expect(batches >= lastPrinted && batches <= lastPrinted + 1, "round \(round): \(batches) batches, \(lastPrinted) reported, seed \(recordedSeed)")
            #expect(batches >= committedBefore, "round \(round), seed \(recordedSeed)")
            #expect(try CacheVerifier.verify(reader).isEmpty, "round \(round), seed \(recordedSeed)")
            let expectedImages = (0..<batches).flatMap { SyntheticCache.imageIDs(batch: $0, size: CrashTests.batchSize) }
            #expect(try reader.ids(column: "image/synthetic/f16") == expectedImages, "round \(round), seed \(recordedSeed)")
            #expect(try reader.ids(column: "text/synthetic/tokens") == expectedImages.map { $0 + SyntheticCache.captionOffset })
            if batches > committedBefore { progressingRounds += 1 }
            committedBefore = batches
            seed = generator.next()
        }
        #expect(kills >= 20, "only \(kills) writers were killed while running")
        #expect(progressingRounds >= 5, "the writer rarely got to commit; seed \(recordedSeed)")

        // Every value of every committed batch is exactly what was written.
        let reader = try CacheReader(path: cache.path)
        for column in SyntheticCache.manifest.columns where column.name != "image/synthetic/unused" {
            for id in try reader.ids(column: column.name) {
                let stored = try #require(try reader.value(column: column, id: id))
                let expected = SyntheticCache.value(column: column, id: id).converted(to: column.dtype)
                #expect(stored.withUnsafeBytes { Array($0) } == expected.withUnsafeBytes { Array($0) }, "\(column.name) \(id)")
            }
        }
        // A resumed writer finishes the job.
        let resumed = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        let done = resumed.committedBatches
        try resumed.write(SyntheticCache.batch(index: done, size: CrashTests.batchSize))
        #expect(resumed.committedBatches == done + 1)
        resumed.close()

        // Killed and resumed, the cache holds the same bytes as one written straight through.
        let straight = try TemporaryCache()
        try writeSynthetic(straight, batches: done + 1, size: CrashTests.batchSize)
        let resumedTables = try CrashTests.dump(cache.path)
        #expect(resumedTables.keys.sorted() == (try CrashTests.dump(straight.path)).keys.sorted())
        #expect(resumedTables == (try CrashTests.dump(straight.path)))
    }

    /// Every table's entries, as bytes.
    static func dump(_ path: String) throws -> [String: [[UInt8]]] {
        let environment = try LMDBEnvironment.open(path: path)
        var tables: [String: [[UInt8]]] = [:]
        for name in try environment.databaseNames() {
            guard let table = try environment.database(name) else { continue }
            try environment.read { transaction in
                var entries: [[UInt8]] = []
                try transaction.forEach(table) { key, value in
                    entries.append(Array(key) + [0xFF] + Array(value))
                    return true
                }
                tables[name] = entries
            }
        }
        return tables
    }
}

extension CacheReader {
    func value(column: Manifest.Column, id: UInt64) throws -> Tensor? {
        try value(column: column.name, id: id)
    }
}
