import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// BERT against Hugging Face `BertModel`: the strongly re-initialised tiny model and real MiniLM weights.
@Suite(.serialized) struct BERTTests {
    static let tiny: Result<BERT, Error> = Result { try BERT(folder: SharedData.url("fixtures/torch/bert_tiny")) }
    static let minilm: Result<BERT, Error> = Result { try BERT(folder: SharedData.url("models/all-MiniLM-L6-v2")) }

    struct Inputs {
        let ids, mask, types: Tensor
    }

    static func inputs(_ prefix: String) throws -> Inputs {
        Inputs(ids: try SharedData.npy("fixtures/torch/\(prefix)_in_input_ids.npy"),
               mask: try SharedData.npy("fixtures/torch/\(prefix)_in_attention_mask.npy"),
               types: try SharedData.npy("fixtures/torch/\(prefix)_in_token_type_ids.npy"))
    }

    func check(_ actual: Tensor, _ reference: String, _ label: String) throws {
        expectConforms(actual, try SharedData.npy("fixtures/torch/\(reference).npy"), label)
    }

    @Test func tinyMatchesHuggingFace() throws {
        let encoder = try Self.tiny.get()
        let input = try Self.inputs("bert")
        let levels = [PyramidLevel(output: "last_hidden_state"), PyramidLevel(output: "pooler_output")]
        let out = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: input.types, levels: levels)
        try check(out[0], "bert_tiny_out_last_hidden_state", "bert tiny last_hidden_state")
        try check(out[1], "bert_tiny_out_pooler_output", "bert tiny pooler_output")
    }

    @Test func miniLMMatchesHuggingFace() throws {
        let encoder = try Self.minilm.get()
        let input = try Self.inputs("minilm")
        let levels = [PyramidLevel(output: "last_hidden_state"), PyramidLevel(output: "pooler_output"),
                      PyramidLevel(output: "last_hidden_state", reduce: .mean)]
        let out = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: input.types, levels: levels)
        try check(out[0], "minilm_out_last_hidden_state", "minilm last_hidden_state")
        try check(out[1], "minilm_out_pooler_output", "minilm pooler_output")
        try check(out[2], "minilm_out_mean_pooled", "minilm mean_pooled")
    }

    @Test func reducedAndIntermediateLevels() throws {
        let encoder = try Self.minilm.get()
        let input = try Self.inputs("minilm")
        let levels = try PyramidLevel.parseList("cls,mean_pooled,hidden_state_6,hidden_state_3:cls,hidden_state_0,last_hidden_state:cls")
        let out = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: input.types, levels: levels)
        let last = try SharedData.npy("fixtures/torch/minilm_out_last_hidden_state.npy")
        let (n, l, h) = (last.shape[0], last.shape[1], last.shape[2])
        let values = last.floats
        let cls = try Tensor(shape: [n, h], floats: (0..<n).flatMap { b in values[(b * l * h)..<(b * l * h + h)] })
        #expect(Conformance.matches(out[0], cls))
        #expect(Conformance.matches(out[1], try SharedData.npy("fixtures/torch/minilm_out_mean_pooled.npy")))
        #expect(Conformance.matches(out[2], last))
        #expect(out[3].shape == [n, h])
        #expect(out[4].shape == [n, l, h])
        #expect(Conformance.matches(out[5], cls))
        // hidden_state_3 alone stops after three layers and agrees with the full run's value.
        let alone = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: input.types,
                                       levels: [PyramidLevel(output: "hidden_state_3", reduce: .cls)])
        #expect(alone[0].floats == out[3].floats)
    }

    @Test func withoutTokenTypesMeansZeros() throws {
        let encoder = try Self.minilm.get()
        let input = try Self.inputs("minilm")
        let out = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: nil,
                                     levels: [PyramidLevel(output: "mean_pooled")])
        #expect(Conformance.matches(out[0], try SharedData.npy("fixtures/torch/minilm_out_mean_pooled.npy")))
    }

    @Test func loadsThePrefixedNames() throws {
        // A task checkpoint: every name under `bert.`, plus a classifier head the encoder ignores.
        let folder = try PrefixedCheckpoint.write(
            fixture: "bert_tiny", prefix: "bert.",
            extra: ("classifier.weight", try Tensor(shape: [2, 64], floats: [Float](repeating: 0.5, count: 128))))
        defer { try? FileManager.default.removeItem(at: folder) }
        let encoder = try EncoderLoader.textEncoder(model: "bert", checkpoint: folder)
        let input = try Self.inputs("bert")
        let out = try encoder.encode(inputIDs: input.ids, attentionMask: input.mask, tokenTypeIDs: input.types,
                                     levels: [PyramidLevel(output: "pooler_output")])
        try check(out[0], "bert_tiny_out_pooler_output", "bert tiny (bert. prefix) pooler_output")
    }

    @Test func badLevelsAndInputs() throws {
        let encoder = try Self.tiny.get()
        for text in ["hidden_state_3", "layer2", "pooler_output:mean", "last_hidden_state:pool7x7", "patch_tokens"] {
            #expect(throws: ModelError.self, "\(text)") { try encoder.validate(levels: [try PyramidLevel(parsing: text)]) }
        }
        let ids = try Tensor(shape: [1, 3], int32s: [101, 40000, 102])
        let mask = try Tensor(shape: [1, 3], int32s: [1, 1, 1])
        #expect(throws: ModelError.self) {
            try encoder.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: [PyramidLevel(output: "cls")])
        }
        #expect(throws: ModelError.self) {
            try encoder.encode(inputIDs: ids, attentionMask: try Tensor(shape: [1, 2], int32s: [1, 1]), tokenTypeIDs: nil,
                               levels: [PyramidLevel(output: "cls")])
        }
    }

    @Test func missingConfigKeyIsNamed() throws {
        let folder = try SharedData.temporaryDirectory("strata-bert")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: SharedData.url("fixtures/torch/bert_tiny/model.safetensors"),
                                         to: folder.appendingPathComponent("model.safetensors"))
        try Data(#"{"model_type": "bert", "num_hidden_layers": 2}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(throws: ModelError.badConfig(file: folder.appendingPathComponent("config.json").path, key: "hidden_size", reason: "missing")) {
            try BERT(folder: folder)
        }
    }
}
