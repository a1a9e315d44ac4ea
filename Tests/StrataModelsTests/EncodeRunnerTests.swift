import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// The core of `strata encode`: fixtures in, fixture-named `.npy` files out.
@Suite struct EncodeRunnerTests {
    @Test func encodesResNetLevelsToNpy() throws {
        let out = try SharedData.temporaryDirectory("strata-encode")
        defer { try? FileManager.default.removeItem(at: out) }
        let files = try EncodeRunner.run(.init(
            model: "resnet50", checkpoint: SharedData.url("fixtures/torch/resnet50.safetensors"),
            input: SharedData.url("fixtures/torch/resnet50_in_b.npy"),
            levels: try PyramidLevel.parseList("layer4,layer2:pool7x7,fc"), outputDirectory: out))
        #expect(files.map(\.lastPathComponent) == ["layer4.npy", "layer2_pool7x7.npy", "fc.npy"])
        #expect(Conformance.matches(try NPY.read(contentsOf: files[0]), try SharedData.npy("fixtures/torch/resnet50_out_b_layer4.npy")))
        #expect(try NPY.read(contentsOf: files[1]).shape == [1, 512, 7, 7])
        #expect(Conformance.matches(try NPY.read(contentsOf: files[2]), try SharedData.npy("fixtures/torch/resnet50_out_b_fc.npy")))
    }

    @Test func encodesBERTWithMaskAndTypes() throws {
        let out = try SharedData.temporaryDirectory("strata-encode")
        defer { try? FileManager.default.removeItem(at: out) }
        let files = try EncodeRunner.run(.init(
            model: "bert", checkpoint: SharedData.url("models/all-MiniLM-L6-v2"),
            input: SharedData.url("fixtures/torch/minilm_in_input_ids.npy"),
            attentionMask: SharedData.url("fixtures/torch/minilm_in_attention_mask.npy"),
            tokenTypeIDs: SharedData.url("fixtures/torch/minilm_in_token_type_ids.npy"),
            levels: try PyramidLevel.parseList("last_hidden_state,last_hidden_state:mean,pooler_output"), outputDirectory: out))
        #expect(files.map(\.lastPathComponent) == ["last_hidden_state.npy", "last_hidden_state_mean.npy", "pooler_output.npy"])
        #expect(Conformance.matches(try NPY.read(contentsOf: files[0]), try SharedData.npy("fixtures/torch/minilm_out_last_hidden_state.npy")))
        #expect(Conformance.matches(try NPY.read(contentsOf: files[1]), try SharedData.npy("fixtures/torch/minilm_out_mean_pooled.npy")))
        #expect(Conformance.matches(try NPY.read(contentsOf: files[2]), try SharedData.npy("fixtures/torch/minilm_out_pooler_output.npy")))
    }

    @Test func encodesViTWithDefaultLevels() throws {
        let out = try SharedData.temporaryDirectory("strata-encode")
        defer { try? FileManager.default.removeItem(at: out) }
        let files = try EncodeRunner.run(.init(
            model: "vit", checkpoint: SharedData.url("fixtures/torch/vit_tiny"),
            input: SharedData.url("fixtures/torch/vit_tiny_in_pixel_values.npy"), outputDirectory: out))
        #expect(files.map(\.lastPathComponent) == ["last_hidden_state.npy", "pooler_output.npy"])
        #expect(Conformance.matches(try NPY.read(contentsOf: files[0]), try SharedData.npy("fixtures/torch/vit_tiny_out_last_hidden_state.npy")))
        #expect(Conformance.matches(try NPY.read(contentsOf: files[1]), try SharedData.npy("fixtures/torch/vit_tiny_out_pooler_output.npy")))
    }

    @Test func unknownLevelFailsBeforeWriting() throws {
        let out = try SharedData.temporaryDirectory("strata-encode")
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(throws: ModelError.self) {
            try EncodeRunner.run(.init(
                model: "vit", checkpoint: SharedData.url("fixtures/torch/vit_tiny"),
                input: SharedData.url("fixtures/torch/vit_tiny_in_pixel_values.npy"),
                levels: [PyramidLevel(output: "layer3")], outputDirectory: out))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }
}
