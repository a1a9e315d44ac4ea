import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

/// Losses against PyTorch's values and gradients.
@Suite("Losses vs PyTorch")
struct LossConformanceTests {
    /// Runs `loss` on the fixture's inputs (and `logit_scale` parameter if any), compares the loss and gradients.
    func check(_ name: String, inputs: [String],
               loss: (Tape, [String: Variable], [String: Tensor]) throws -> Variable) throws {
        let fixture = try Fixture.load(name)
        let tape = Tape()
        var variables: [String: Variable] = [:]
        for input in inputs { variables[input] = tape.input(try tensor(fixture, "input.\(input)")) }
        let output = try loss(tape, variables, fixture)
        #expect(tape.shape(of: output) == [])
        var worst = expectMatches(tape.value(of: output), try tensor(fixture, "output"), "\(name) loss")
        try tape.backward(output)
        for input in inputs {
            worst = max(worst, expectMatches(tape.gradient(of: try variables.named(input)), try tensor(fixture, "grad.input.\(input)"),
                                             "\(name) d\(input)"))
        }
        print("conformance \(name): max|a-b| = \(worst)")
    }

    @Test("cross-entropy")
    func crossEntropy() throws {
        try check("cross_entropy", inputs: ["logits"]) { tape, v, fixture in
            try tape.crossEntropy(try v.named("logits"), targets: try tensor(fixture, "other.targets").int32s.map(Int.init))
        }
    }

    @Test("binary cross-entropy with logits, hard and soft targets")
    func bce() throws {
        try check("bce_with_logits", inputs: ["logits"]) { tape, v, fixture in
            try tape.binaryCrossEntropyWithLogits(try v.named("logits"), targets: try tensor(fixture, "other.targets"))
        }
    }

    @Test("symmetric InfoNCE with CLIP's learnable logit_scale")
    func infoNCELearnable() throws {
        let fixture = try Fixture.load("infonce_learnable")
        let scale = Parameter(try tensor(fixture, "param.logit_scale"))
        #expect(abs(scale.value.floats[0] - Tape.Temperature.clipInitialLogitScale) < 1e-6)
        try check("infonce_learnable", inputs: ["image", "text"]) { tape, v, _ in
            try tape.symmetricInfoNCE(image: try v.named("image"), text: try v.named("text"),
                                      temperature: .learnable(logitScale: tape.parameter(scale)))
        }
        expectMatches(scale.gradient, try tensor(fixture, "grad.param.logit_scale"), "d logit_scale")
    }

    @Test("symmetric InfoNCE with a fixed temperature")
    func infoNCEFixed() throws {
        try check("infonce_fixed", inputs: ["image", "text"]) { tape, v, fixture in
            try tape.symmetricInfoNCE(image: try v.named("image"), text: try v.named("text"),
                                      temperature: .fixed(try tensor(fixture, "other.temperature").floats[0]))
        }
    }

    @Test("cosine-similarity contrastive (seed 004)")
    func cosineContrastive() throws {
        try check("cosine_contrastive", inputs: ["image", "text"]) { tape, v, _ in
            try tape.cosineContrastive(image: try v.named("image"), text: try v.named("text"), temperature: 0.1)
        }
    }

    @Test("losses reject bad targets with a message naming them")
    func badTargets() throws {
        let tape = Tape()
        let logits = tape.input(Tensor(zeros: [2, 3]))
        #expect(throws: AutodiffError.invalidArgument(operation: "crossEntropy", reason: "target 3 outside 0..<3")) {
            try tape.crossEntropy(logits, targets: [0, 3])
        }
        #expect(throws: AutodiffError.self) { try tape.crossEntropy(logits, targets: [0]) }
    }
}
