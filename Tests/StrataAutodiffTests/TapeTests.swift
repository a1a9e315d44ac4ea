import Foundation
import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

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
        #expect(throws: AutodiffError.nonScalarLoss(shape: [2, 3])) { try tape.backward(x) }
        #expect(throws: AutodiffError.shapeMismatch(operation: "add", shapes: [[2, 3], [4]])) {
            try tape.add(x, tape.constant(Tensor(zeros: [4])))
        }
        #expect(throws: AutodiffError.self) { try tape.matmul(x, x) }
        #expect(throws: AutodiffError.self) { try tape.reshape(x, [4, -1]) }
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
