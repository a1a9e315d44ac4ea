import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataPipeline

/// Seeded weights are generated once per model, seed and sizes into a shared folder, and reused.
@Suite struct SeededWeightsStoreTests {
    static let small = #"{"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}"#

    func encoder(seed: UInt64, config: String = small) -> PipelineConfig.Encoder {
        PipelineConfig.Encoder(model: "bert", checkpoint: nil, configJSON: config, seed: seed, levels: [])
    }

    @Test func oneFolderPerModelSeedAndSizesReusedWhole() throws {
        let scratch = try SharedData.temporaryDirectory("strata-seeded-store")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let first = try ResolvedWeights.resolve(encoder(seed: 4), seedMissing: true, scratch: scratch)
        let weights = first.checkpoint.appendingPathComponent("model.safetensors")
        let written = try FileManager.default.attributesOfItem(atPath: weights.path)[.modificationDate] as? Date
        let again = try ResolvedWeights.resolve(encoder(seed: 4), seedMissing: true, scratch: scratch)
        #expect(again.checkpoint.path == first.checkpoint.path)
        #expect(again.manifestEntry == first.manifestEntry)
        #expect(try FileManager.default.attributesOfItem(atPath: weights.path)[.modificationDate] as? Date == written)
        let otherSeed = try ResolvedWeights.resolve(encoder(seed: 5), seedMissing: true, scratch: scratch)
        let otherSizes = try ResolvedWeights.resolve(
            encoder(seed: 4, config: #"{"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}"#),
            seedMissing: true, scratch: scratch)
        #expect(Set([first.checkpoint.path, otherSeed.checkpoint.path, otherSizes.checkpoint.path]).count == 3)
        #expect(first.manifestEntry.weightsSHA256 != otherSeed.manifestEntry.weightsSHA256)
        // Only whole folders remain: no partial ones from the writes.
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(names.count == 3 && !names.contains { $0.hasPrefix(".") })
    }

    @Test func partialFoldersOfKilledBuildsAreRemoved() throws {
        let scratch = try SharedData.temporaryDirectory("strata-seeded-store")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let resolved = try ResolvedWeights.resolve(encoder(seed: 6), seedMissing: true, scratch: scratch)
        let name = resolved.checkpoint.lastPathComponent
        try FileManager.default.removeItem(at: resolved.checkpoint)
        // A process id that is not running (beyond the kernel's pid_max) and this process's own.
        let dead = scratch.appendingPathComponent(".\(name)-partial-2147483646-0A")
        let alive = scratch.appendingPathComponent(".\(name)-partial-\(getpid())-0B")
        for folder in [dead, alive] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        _ = try ResolvedWeights.resolve(encoder(seed: 6), seedMissing: true, scratch: scratch)
        #expect(!FileManager.default.fileExists(atPath: dead.path))
        #expect(FileManager.default.fileExists(atPath: alive.path))
        #expect(FileManager.default.fileExists(atPath: resolved.checkpoint.appendingPathComponent("model.safetensors").path))
    }
}
