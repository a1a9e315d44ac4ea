import Foundation
import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

/// The PyTorch fixtures of `scripts/fixtures/make_train_fixtures.py`, committed beside the tests.
enum Fixture {
    static let folder = SafetensorsFixtures()

    /// All tensors of `Fixtures/<name>.safetensors`.
    static func load(_ name: String) throws -> [String: Tensor] { try folder.load(name) }
}

/// A tensor of standard-normal values from a fixed seed; `awayFromZero` pushes entries out of
/// (-margin, margin) so kinks (ReLU, |x|) sit beyond the finite-difference step.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, awayFromZero margin: Float = 0) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    var tensor = Tensor(zeros: shape)
    tensor.withUnsafeMutableFloats { p in
        for i in 0..<p.count {
            var v = generator.nextNormal() * scale
            if abs(v) < margin { v += v < 0 ? -margin : margin }
            p[i] = v
        }
    }
    return tensor
}

/// Checks the tape's gradients of `sum(build(inputs) · R)` (R a fixed random tensor) against central
/// differences `(f(x+h) - f(x-h)) / 2h`, with `f` accumulated in Double, for every element of every
/// input in `differentiate` (all by default). Passes when |analytic - numeric| ≤ atol + rtol·|numeric|
/// for every element. Returns the worst absolute difference.
@discardableResult
func checkGradients(_ inputs: [Tensor], differentiate: Set<Int>? = nil, h: Float = 1e-2, atol: Float = 2e-3,
                    rtol: Float = 1e-2, training: Bool = false, label: String,
                    sourceLocation: SourceLocation = #_sourceLocation,
                    _ build: (Tape, [Variable]) throws -> Variable) throws -> Float {
    func run(_ values: [Tensor]) throws -> (Tape, [Variable], Variable) {
        let tape = Tape(training: training, seed: 99)
        let variables = values.enumerated().map { (differentiate ?? Set(values.indices)).contains($0.offset)
            ? tape.input($0.element) : tape.constant($0.element) }
        return (tape, variables, try build(tape, variables))
    }
    let (tape, variables, output) = try run(inputs)
    let weights = randomTensor(tape.shape(of: output), seed: 4242).floats
    func objective(_ values: [Tensor]) throws -> Double {
        let (t, _, out) = try run(values)
        return zip(t.value(of: out).floats, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    try tape.backward(output, seed: try Tensor(shape: tape.shape(of: output), floats: weights))
    var worst: Float = 0
    for index in inputs.indices where (differentiate ?? Set(inputs.indices)).contains(index) {
        let analytic = try #require(tape.gradient(of: variables[index]), "\(label): no gradient for input \(index)")
            .floats
        for element in 0..<inputs[index].count {
            var plus = inputs
            var minus = inputs
            plus[index].withUnsafeMutableFloats { $0[element] += h }
            minus[index].withUnsafeMutableFloats { $0[element] -= h }
            let numeric = Float((try objective(plus) - objective(minus)) / (2 * Double(h)))
            let difference = abs(analytic[element] - numeric)
            worst = max(worst, difference)
            if difference > atol + rtol * abs(numeric) {
                Issue.record("\(label): input \(index) element \(element): analytic \(analytic[element]) vs numeric \(numeric)",
                             sourceLocation: sourceLocation)
                return worst
            }
        }
    }
    return worst
}

extension Dictionary where Key == String, Value == Variable {
    /// The variable recorded for `name`, failing the test when there is none.
    func named(_ name: String) throws -> Variable {
        try #require(self[name], "no variable named \(name)")
    }
}
