import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// Weights with NaN or infinity and impossible configs are refused at load, naming what is wrong.
@Suite struct NonFiniteWeightTests {
    static let sizes = SeededWeights.TransformerSizes(config: [
        "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
        "vocab_size": 50, "max_position_embeddings": 16, "image_size": 32, "patch_size": 16])

    /// A seeded BERT folder with `edit` applied to its tensors and config.
    static func bertFolder(_ edit: (inout [(String, Tensor)], inout [String: Any]) throws -> Void) throws -> URL {
        let folder = try SharedData.temporaryDirectory("strata-nonfinite")
        var tensors = try SeededWeights.bert(sizes, seed: 5)
        var config = sizes.bertConfig
        try edit(&tensors, &config)
        try SafetensorsWriter.write(tensors, to: folder.appendingPathComponent("model.safetensors"))
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        return folder
    }

    @Test func theSeededFolderLoads() throws {
        let folder = try NonFiniteWeightTests.bertFolder { _, _ in }
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try BERT(folder: folder)
    }

    @Test(arguments: [Float.nan, Float.infinity, -Float.infinity])
    func aNonFiniteWeightIsRefusedNamingTheTensor(_ bad: Float) throws {
        let name = "encoder.layer.0.attention.self.query.weight"
        let folder = try NonFiniteWeightTests.bertFolder { tensors, _ in
            guard let index = tensors.firstIndex(where: { $0.0 == name }) else { return }
            var values = tensors[index].1.floats
            values[3] = bad
            tensors[index].1 = try Tensor(shape: tensors[index].1.shape, floats: values)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try BERT(folder: folder)
        } throws: { error in
            guard case let ModelError.nonFiniteWeight(_, tensor, index, _) = error else { return false }
            return tensor == name && index == 3 && "\(error)".contains("tensor '\(name)' holds")
        }
    }

    @Test(arguments: [-1.0, 0.0])
    func anImpossibleLayerNormEpsilonIsRefused(_ eps: Double) throws {
        let folder = try NonFiniteWeightTests.bertFolder { _, config in config["layer_norm_eps"] = eps }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try BERT(folder: folder)
        } throws: { error in
            guard case let ModelError.badConfig(_, key, reason) = error else { return false }
            return key == "layer_norm_eps" && reason.contains("greater than 0")
        }
    }

    @Test func finiteChecksFindTheFirstBadElementOfEachDType() throws {
        var values = [Float](repeating: 1.5, count: 3000)
        values[2500] = .nan
        values[2700] = .infinity
        for dtype in [DType.f32, .f16, .bf16] {
            let tensor = try Tensor(shape: [3000], floats: values).converted(to: dtype)
            #expect(tensor.firstNonFinite == 2500, "\(dtype)")
            let clean = try Tensor(shape: [3000], floats: [Float](repeating: 65000, count: 3000)).converted(to: dtype)
            #expect(clean.firstNonFinite == nil, "\(dtype)")
        }
    }
}
