import Foundation
import StrataTensor
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
        let tensors = try Fixture.load("mha_cross")
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
        #expect(throws: TrainError.stateMismatch(name: "bias", reason: "missing from the checkpoint")) {
            try norm.load(stateDict: ["weight": Tensor(zeros: [4])])
        }
        #expect(throws: TrainError.stateMismatch(name: "extra", reason: "not a parameter of this module")) {
            try norm.load(stateDict: ["weight": Tensor(zeros: [4]), "bias": Tensor(zeros: [4]), "extra": Tensor(zeros: [1])])
        }
        #expect(throws: TrainError.stateMismatch(name: "weight", reason: "shape [5], the module needs [4]")) {
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

@Suite("Tape")
struct TapeTests {
    /// One forward and backward of a small attention block, dropout masks drawn from the same seed each time;
    /// returns the loss.
    func step(_ tape: Tape, _ block: CrossAttentionBlock, _ text: Tensor, _ image: Tensor) throws -> Float {
        tape.reset()
        tape.generator = SeededGenerator(seed: 5)
        let out = try block.forward(query: tape.constant(text), context: tape.constant(image), on: tape)
        let loss = tape.mean(try tape.multiply(out, out))
        try tape.backward(loss)
        return tape.scalar(loss)
    }

    @Test("a repeated step reuses every value, gradient and saved buffer")
    func buffersAreReused() throws {
        var generator = SeededGenerator(seed: 13)
        let block = try CrossAttentionBlock(dim: 16, heads: 4, generator: &generator)
        let (text, image) = (randomTensor([2, 3, 16], seed: 1), randomTensor([2, 5, 16], seed: 2))
        let tape = Tape()
        let first = try step(tape, block, text, image)
        func addresses() -> [UnsafeMutableRawPointer] {
            (tape.values + tape.grads + tape.saved).map(\.storage.bytes)
        }
        let before = addresses()
        let second = try step(tape, block, text, image)
        #expect(first == second)
        let after = addresses()
        let owned = zip(before, after).enumerated().filter { index, _ in
            let node = index % tape.values.count
            return node >= tape.nodes.count || !tape.nodes[node].borrowsValue
        }
        #expect(owned.allSatisfy { $0.element.0 == $0.element.1 })
    }

    @Test("dropout is deterministic per seed, drops about p, and is the identity in evaluation mode")
    func dropoutDeterminism() throws {
        let ones = try Tensor(shape: [100, 100], floats: [Float](repeating: 1, count: 10_000))
        func mask(seed: UInt64, training: Bool = true) throws -> [Float] {
            let tape = Tape(training: training, seed: seed)
            return tape.value(of: try tape.dropout(tape.constant(ones), p: 0.25)).floats
        }
        let a = try mask(seed: 1), b = try mask(seed: 1), c = try mask(seed: 2)
        #expect(a == b)
        #expect(a != c)
        let dropped = Float(a.filter { $0 == 0 }.count) / Float(a.count)
        #expect(abs(dropped - 0.25) < 0.02)
        #expect(a.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        #expect(try mask(seed: 1, training: false) == ones.floats)
    }

    @Test("backward needs a scalar or a matching seed; shape errors name the operation")
    func errors() throws {
        let tape = Tape()
        let x = tape.input(Tensor(zeros: [2, 3]))
        #expect(throws: TrainError.nonScalarLoss(shape: [2, 3])) { try tape.backward(x) }
        #expect(throws: TrainError.shapeMismatch(operation: "add", shapes: [[2, 3], [4]])) {
            try tape.add(x, tape.constant(Tensor(zeros: [4])))
        }
        #expect(throws: TrainError.self) { try tape.matmul(x, x) }
        #expect(throws: TrainError.self) { try tape.reshape(x, [4, -1]) }
    }

    @Test("gradients flowing into a shared parameter from two uses add up")
    func sharedParameter() throws {
        let weight = Parameter(try Tensor(shape: [1, 1], floats: [2]))
        let tape = Tape()
        let x = tape.constant(try Tensor(shape: [1, 1], floats: [3]))
        let w1 = tape.parameter(weight), w2 = tape.parameter(weight)
        let y = try tape.add(tape.linear(x, weight: w1, bias: nil), tape.linear(x, weight: w2, bias: nil))
        try tape.backward(tape.sum(y))
        #expect(weight.gradient.floats == [6])
    }
}
