import Foundation
import Testing
import StrataTestSupport
import StrataTensor
@testable import StrataModels

/// Seeded weights must carry exactly the names and shapes of the real checkpoints they stand in for.
@Suite struct SeededWeightsTests {
    /// Tensor names and shapes from a safetensors header.
    func header(_ relativePath: String) throws -> [String: [Int]] {
        let data = try Data(contentsOf: SharedData.url(relativePath))
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let json = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        var shapes: [String: [Int]] = [:]
        for (name, value) in json where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            shapes[name] = try #require(entry["shape"] as? [Int])
        }
        return shapes
    }

    func shapes(_ tensors: [(String, Tensor)]) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.0, $0.1.shape) })
    }

    @Test func resnet50MatchesTorchvisionNames() throws {
        let reference = try header("fixtures/torch/resnet50.safetensors").filter { !$0.key.hasSuffix("num_batches_tracked") }
        let seeded = try SeededWeights.resnet50(seed: 7)
        #expect(seeded.count == reference.count)
        #expect(shapes(seeded) == reference)
    }

    @Test func bertMatchesMiniLMNamesAtItsSizes() throws {
        let configData = try Data(contentsOf: SharedData.url("models/all-MiniLM-L6-v2/config.json"))
        let config = try #require(try JSONSerialization.jsonObject(with: configData) as? [String: Any])
        let reference = try header("models/all-MiniLM-L6-v2/model.safetensors")
            .filter { !$0.key.hasSuffix("position_ids") }
        let seeded = try SeededWeights.bert(.init(config: config), seed: 7)
        #expect(shapes(seeded) == reference)
    }

    @Test func vitMatchesTheTinyFixtureNames() throws {
        let configData = try Data(contentsOf: SharedData.url("fixtures/torch/vit_tiny/config.json"))
        let config = try #require(try JSONSerialization.jsonObject(with: configData) as? [String: Any])
        let reference = try header("fixtures/torch/vit_tiny/model.safetensors")
        let seeded = try SeededWeights.vit(.init(config: config), seed: 7)
        #expect(shapes(seeded) == reference)
    }

    @Test func sameSeedSameWeightsOtherSeedOthers() throws {
        let sizes = SeededWeights.TransformerSizes(config: ["hidden_size": 16, "num_hidden_layers": 1,
                                                            "num_attention_heads": 2, "vocab_size": 50])
        let a = try SeededWeights.bert(sizes, seed: 1)
        let b = try SeededWeights.bert(sizes, seed: 1)
        let c = try SeededWeights.bert(sizes, seed: 2)
        #expect(a.map { $0.1.floats } == b.map { $0.1.floats })
        #expect(a[0].1.floats != c[0].1.floats)
        let values = a[0].1.floats
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(mean) < 0.005)
        #expect(abs(std - 0.02) < 0.003)
    }
}
