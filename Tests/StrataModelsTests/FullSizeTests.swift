import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// ViT-B/16, BERT-base and ResNet-50 at full size on generated weights: shapes and finiteness.
@Suite(.serialized) struct FullSizeTests {
    func finite(_ tensor: Tensor) -> Bool { tensor.floats.allSatisfy(\.isFinite) }

    @Test func vitBase16() throws {
        let folder = try SharedData.temporaryDirectory("strata-vit-b16")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try SeededWeights.writeCheckpoint(model: "vit", sizes: .init(config: [:]), seed: 1, into: folder)
        let encoder = try EncoderLoader.imageEncoder(model: "vit", checkpoint: checkpoint)
        var pixels = Tensor(zeros: [2, 3, 224, 224])
        pixels.withUnsafeMutableFloats { p in for i in p.indices { p[i] = Float(i % 251) / 125 - 1 } }
        let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList(
            "last_hidden_state,patch_tokens,cls,pooler_output,hidden_state_6:mean"))
        #expect(out.map(\.shape) == [[2, 197, 768], [2, 196, 768], [2, 768], [2, 768], [2, 768]])
        #expect(out.allSatisfy(finite))
    }

    @Test func bertBase() throws {
        let folder = try SharedData.temporaryDirectory("strata-bert-base")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try SeededWeights.writeCheckpoint(model: "bert", sizes: .init(config: [:]), seed: 2, into: folder)
        let encoder = try EncoderLoader.textEncoder(model: "bert", checkpoint: checkpoint)
        let (n, l) = (3, 20)
        let ids = try Tensor(shape: [n, l], int32s: (0..<(n * l)).map { Int32(($0 * 7919) % 30522) })
        let mask = try Tensor(shape: [n, l], int32s: (0..<(n * l)).map { $0 % l < 10 + 5 * ($0 / l) ? 1 : 0 })
        let out = try encoder.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: try PyramidLevel.parseList(
            "last_hidden_state,hidden_state_4,cls,mean_pooled,pooler_output"))
        #expect(out.map(\.shape) == [[n, l, 768], [n, l, 768], [n, 768], [n, 768], [n, 768]])
        #expect(out.allSatisfy(finite))
    }

    @Test func resnet50() throws {
        let folder = try SharedData.temporaryDirectory("strata-resnet50")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try SeededWeights.writeCheckpoint(model: "resnet50", sizes: .init(config: [:]), seed: 3, into: folder)
        let encoder = try EncoderLoader.imageEncoder(model: "resnet50", checkpoint: checkpoint)
        var pixels = Tensor(zeros: [1, 3, 224, 224])
        pixels.withUnsafeMutableFloats { p in for i in p.indices { p[i] = Float(i % 97) / 48 - 1 } }
        let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList("layer1,layer2:pool7x7,layer3,layer4,avgpool,fc"))
        #expect(out.map(\.shape) == [[1, 256, 56, 56], [1, 512, 7, 7], [1, 1024, 14, 14], [1, 2048, 7, 7], [1, 2048], [1, 1000]])
        #expect(out.allSatisfy(finite))
    }
}
