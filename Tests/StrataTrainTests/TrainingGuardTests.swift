import Foundation
import StrataAutodiff
import StrataTensor
import StrataTestSupport
import Testing
@testable import StrataTrain

/// Training refuses what would silently train nothing, says when it validates on the training split,
/// and refuses a damaged head checkpoint.
@Suite struct TrainingGuardTests {
    @Test func aSplitTooSmallForOneBatchIsRefusedAndTheValidationFallbackAnnounced() throws {
        let folder = try SharedData.temporaryDirectory("strata-train-guard")
        defer { try? FileManager.default.removeItem(at: folder) }
        var spec = SyntheticPairCache.small
        spec.trainImages = 1
        spec.valImages = 0
        let path = folder.appendingPathComponent("cache").path
        try spec.write(to: path)
        let trainer = try HeadTrainer(config: syntheticConfig(.projector), cachePath: path)
        #expect(trainer.validationNote?.contains("validating on the training split 'train'") == true, "\(trainer.validationNote ?? "no note")")
        #expect {
            _ = try trainer.run()
        } throws: { error in
            guard case let TrainError.splitTooSmall(split, images, _) = error else { return false }
            return split == "train" && images == 1 && "\(error)".contains("nothing would be trained")
        }
    }

    @Test func aFlippedByteInAHeadCheckpointIsRefused() throws {
        var generator = SeededGenerator(seed: 11)
        let block = try CrossAttentionBlock(dim: 16, heads: 4, generator: &generator)
        let folder = try SharedData.temporaryDirectory("strata-train-guard")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("block.safetensors")
        try block.save(to: url)
        try block.load(contentsOf: url)
        var data = try Data(contentsOf: url)
        data[data.count - 10] ^= 0x04
        try data.write(to: url)
        #expect {
            try block.load(contentsOf: url)
        } throws: { error in
            "\(error)".contains("the checkpoint is damaged")
        }
    }

    @Test func aHeadConfigAliasBombIsRefused() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<12 {
            yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect {
            _ = try HeadConfig.parse(yaml, file: "bomb.yaml")
        } throws: { error in
            "\(error)".contains("the document expands to more than 100000 values")
        }
    }
}
