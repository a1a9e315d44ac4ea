import Foundation
import StrataAutodiff
import StrataTensor
import StrataTestExpectations
import StrataTestSupport
import Testing
@testable import StrataTrain

@Suite("Checkpoints")
struct CheckpointTests {
    @Test("save and load round-trips a module under its state_dict names")
    func roundTrip() throws {
        var generator = SeededGenerator(seed: 11)
        let saved = try CrossAttentionBlock(dim: 16, heads: 4, generator: &generator)
        let directory = try SharedData.temporaryDirectory("strata-train")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("block.safetensors")
        try saved.save(to: url, metadata: ["format": "pt"])
        let names = try Checkpoint.read(contentsOf: url).keys.sorted()
        #expect(names == ["attention.in_proj_bias", "attention.in_proj_weight", "attention.out_proj.bias",
                          "attention.out_proj.weight", "layer_norm.bias", "layer_norm.weight"])
        var other = SeededGenerator(seed: 12)
        let loaded = try CrossAttentionBlock(dim: 16, heads: 4, generator: &other)
        #expect(loaded.attention.inProjWeight.value.floats != saved.attention.inProjWeight.value.floats)
        try loaded.load(contentsOf: url)
        for ((name, a), (_, b)) in zip(saved.namedParameters, loaded.namedParameters) {
            #expect(a.value.floats == b.value.floats, "\(name)")
        }
    }

    @Test("files written by safetensors.torch load, with the header's 8-byte alignment")
    func readsPyTorchFiles() throws {
        let torchFile = SharedData.repositoryRoot.appendingPathComponent("Tests/StrataAutodiffTests/Fixtures/mha_cross.safetensors")
        let tensors = try Checkpoint.read(contentsOf: torchFile)
        let mask = try tensor(tensors, "other.key_padding_mask")
        #expect(mask.dtype == .i32 && mask.shape == [2, 5])
        #expect(try tensor(tensors, "param.in_proj_weight").shape == [48, 16])
        let data = try Checkpoint.encode(["b": Tensor(zeros: [3]), "a": Tensor(zeros: [1, 2], dtype: .bf16)])
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(data.count == 8 + headerLength + 12 + 4)
        let decoded = try Checkpoint.decode(data)
        #expect(decoded["a"]?.dtype == .bf16 && decoded["b"]?.shape == [3])
    }

    @Test("loading reports missing, extra, misshapen and corrupt tensors by name")
    func errors() throws {
        let norm = LayerNorm(4)
        #expect(throws: AutodiffError.stateMismatch(name: "bias", reason: "missing from the checkpoint")) {
            try norm.load(stateDict: ["weight": Tensor(zeros: [4])])
        }
        #expect(throws: AutodiffError.stateMismatch(name: "extra", reason: "not a parameter of this module")) {
            try norm.load(stateDict: ["weight": Tensor(zeros: [4]), "bias": Tensor(zeros: [4]), "extra": Tensor(zeros: [1])])
        }
        #expect(throws: AutodiffError.stateMismatch(name: "weight", reason: "shape [5], the module needs [4]")) {
            try norm.load(stateDict: ["weight": Tensor(zeros: [5]), "bias": Tensor(zeros: [4])])
        }
        var data = try Checkpoint.encode(["w": Tensor(zeros: [4])])
        data.removeLast(4)
        #expect(throws: TrainError.self) { try Checkpoint.decode(data, file: "cut.safetensors") }
        #expect(throws: TrainError.self) { try Checkpoint.decode(Data([1, 2, 3]), file: "tiny.safetensors") }
    }

    @Test("head checkpoints are validated as strictly as model weights: no overlaps, no stray bytes")
    func strictValidation() throws {
        func file(_ header: String, dataBytes: Int) -> Data {
            var json = Data(header.utf8)
            while json.count % 8 != 0 { json.append(0x20) }
            var data = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
            return data + json + Data(count: dataBytes)
        }
        let overlap = file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12)
        #expect(throws: TrainError.checkpoint(file: "o.safetensors", reason: "tensor 'b': its bytes overlap those of 'a'")) {
            try Checkpoint.decode(overlap, file: "o.safetensors")
        }
        var trailing = try Checkpoint.encode(["w": Tensor(zeros: [4])])
        trailing.append(contentsOf: [0, 0, 0, 0])
        #expect(throws: TrainError.checkpoint(file: "t.safetensors", reason: "4 data bytes at offset 16 belong to no tensor")) {
            try Checkpoint.decode(trailing, file: "t.safetensors")
        }
        let i64 = file(#"{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: TrainError.self) { try Checkpoint.decode(i64) }
    }
}
