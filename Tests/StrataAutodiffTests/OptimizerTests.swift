import Foundation
import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

/// A two-tower contrastive model: projectors for image and text features and CLIP's logit scale.
final class TwoTower: Module {
    let image: Projector
    let text: Projector
    let logitScale = Parameter(Tensor(zeros: []))

    init(generator: inout SeededGenerator) {
        image = Projector(12, 8, generator: &generator)
        text = Projector(10, 8, generator: &generator)
    }

    var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("image", image) + prefixed("text", text) + [("logit_scale", logitScale)]
    }

    func loss(images: Tensor, texts: Tensor, on tape: Tape) throws -> Variable {
        let i = try image.forward(tape.constant(images), on: tape)
        let t = try text.forward(tape.constant(texts), on: tape)
        return try tape.symmetricInfoNCE(image: i, text: t, temperature: .learnable(logitScale: tape.parameter(logitScale)))
    }
}

@Suite("AdamW, clipping, schedules, NaN detection")
struct OptimizerTests {
    @Test("five AdamW steps with clip_grad_norm_ and warm-up + cosine match PyTorch to 1e-5")
    func adamWMatchesPyTorch() throws {
        let fixture = try Fixture.load("adamw_steps")
        var generator = SeededGenerator(seed: 1)
        let model = TwoTower(generator: &generator)
        var start: [String: Tensor] = [:]
        for (key, value) in fixture where key.hasPrefix("param.") { start[String(key.dropFirst(6))] = value }
        try model.load(stateDict: start)
        let optimizer = AdamW(model.namedParameters, learningRate: 3e-2, betas: (0.9, 0.98), eps: 1e-6,
                              weightDecay: 0.05, noDecay: { !($0.hasSuffix("weight") && !$0.contains(".2.")) })
        let schedule = LearningRateSchedule.warmupCosine(warmupSteps: 2, totalSteps: 6)
        let norms = try tensor(fixture, "other.norms").floats
        let lrs = try tensor(fixture, "other.lrs").floats
        let losses = try tensor(fixture, "other.losses").floats
        let tape = Tape()
        for step in 0..<norms.count {
            tape.reset()
            optimizer.zeroGradients()
            let loss = try model.loss(images: try tensor(fixture, "other.step\(step).image"),
                                      texts: try tensor(fixture, "other.step\(step).text"), on: tape)
            #expect(abs(tape.scalar(loss) - losses[step]) <= 1e-5 * max(1, abs(losses[step])), "loss at step \(step)")
            try tape.backward(loss)
            let norm = GradientClipping.clipGlobalNorm(model.parameters, maxNorm: 1)
            #expect(abs(norm - norms[step]) <= 1e-5 * max(1, norms[step]), "gradient norm at step \(step): \(norm) vs \(norms[step])")
            optimizer.learningRate = schedule.learningRate(base: 3e-2, at: step)
            #expect(abs(optimizer.learningRate - lrs[step]) <= 1e-7, "learning rate at step \(step)")
            try optimizer.step()
        }
        var worst: Float = 0
        for (name, parameter) in model.namedParameters {
            worst = max(worst, expectMatches(parameter.value, try tensor(fixture, "final.\(name)"), "final \(name)", relative: 1e-5))
        }
        print("conformance adamw_steps: max|a-b| of final parameters = \(worst)")
    }

    @Test("warm-up + cosine multipliers match LambdaLR's")
    func schedule() throws {
        let expected = try tensor(try Fixture.load("adamw_steps"), "other.schedule").floats
        let schedule = LearningRateSchedule.warmupCosine(warmupSteps: 2, totalSteps: 6)
        for (step, value) in expected.enumerated() {
            #expect(abs(schedule.multiplier(at: step) - value) <= 1e-7, "step \(step)")
        }
        #expect(LearningRateSchedule.constant.learningRate(base: 0.5, at: 100) == 0.5)
    }

    @Test("clipping leaves small gradients alone and scales large ones to the limit")
    func clipping() throws {
        let a = Parameter(Tensor(zeros: [2]))
        let b = Parameter(Tensor(zeros: [1]))
        a.gradient = try Tensor(shape: [2], floats: [3, 0])
        b.gradient = try Tensor(shape: [1], floats: [4])
        let norm = GradientClipping.clipGlobalNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(a.gradient.floats[0] - 0.6) < 1e-6 && abs(b.gradient.floats[0] - 0.8) < 1e-6)
        let untouched = GradientClipping.clipGlobalNorm([a, b], maxNorm: 10)
        #expect(abs(untouched - 1) < 1e-5)
        #expect(abs(b.gradient.floats[0] - 0.8) < 1e-6)
    }

    @Test("clamping a logit scale keeps it in CLIP's range")
    func clampLogitScale() throws {
        let scale = Parameter(try Tensor(shape: [3], floats: [-1, 2, 7]))
        scale.clamp(to: 0...Float(Foundation.log(100.0)))
        #expect(scale.value.floats == [0, 2, Float(Foundation.log(100.0))])
    }

    @Test("a NaN gradient stops the step, naming the step and the parameter, before any update")
    func nanDetection() throws {
        var generator = SeededGenerator(seed: 9)
        let layer = Linear(3, 2, generator: &generator)
        let optimizer = AdamW([("head.weight", layer.weight), ("head.bias", try #require(layer.bias))])
        let before = layer.weight.value.floats
        let tape = Tape()
        let x = tape.constant(try Tensor(shape: [1, 3], floats: [1, .nan, 2]))
        try tape.backward(tape.sum(try layer.forward(x, on: tape)))
        #expect(throws: AutodiffError.nonFinite(step: 1, parameter: "head.weight", what: "gradient")) { try optimizer.step() }
        #expect(layer.weight.value.floats.elementsEqual(before) { $0 == $1 || ($0.isNaN && $1.isNaN) })
        #expect(optimizer.stepCount == 0)
        #expect(throws: AutodiffError.nonFiniteLoss(step: 4, value: .infinity)) { try FiniteCheck.loss(.infinity, step: 4) }
        #expect("\(AutodiffError.nonFinite(step: 7, parameter: "proj.weight", what: "gradient"))".contains("step 7"))
    }
}
