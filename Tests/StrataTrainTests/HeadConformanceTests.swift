import Foundation
import StrataAutodiff
import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataTrain

/// The five heads against their PyTorch versions (`bench/peers/heads.py`, fixture written by
/// `scripts/fixtures/make_heads_fixtures.py`): same weights and batch, no dropout; the pair scores, the
/// loss and its parts, and every parameter's gradient must match.
@Suite("Heads against PyTorch")
struct HeadConformanceTests {
    static let widths = (image: ["image/c4": 6, "image/c5": 8], text: ["text/tokens": 5, "text/layer3": 7])

    static func config(_ kind: HeadConfig.Kind) -> HeadConfig {
        var config = HeadConfig(name: kind.rawValue, kind: kind, image: "image/c5", text: "text/tokens")
        if kind == .pyramid {
            config = HeadConfig(name: kind.rawValue, kind: kind, levels: [
                HeadConfig.Level(image: "image/c4", text: "text/tokens"),
                HeadConfig.Level(image: "image/c5", text: "text/layer3"),
            ])
        }
        config.dim = 8
        config.attentionHeads = 2
        config.hidden = 16
        config.dropout = 0
        config.loss.itm = 0.5
        return config
    }

    @Test(arguments: HeadConfig.Kind.allCases)
    func matchesPyTorch(kind: HeadConfig.Kind) throws {
        let fixture = try Fixture.load("heads")
        let name = kind.rawValue
        let head = try HeadFactory.make(Self.config(kind), imageWidths: Self.widths.image, textWidths: Self.widths.text)
        var state: [String: Tensor] = [:]
        for (key, value) in fixture where key.hasPrefix("\(name).param.") {
            state[String(key.dropFirst("\(name).param.".count))] = value
        }
        try head.load(stateDict: state)

        let mask = try tensor(fixture, "input.text_mask")
        let inputs = PairInputs(
            images: ["image/c4": FeatureBatch(values: try tensor(fixture, "input.image.c4"), mask: nil),
                     "image/c5": FeatureBatch(values: try tensor(fixture, "input.image.c5"), mask: nil)],
            texts: ["text/tokens": FeatureBatch(values: try tensor(fixture, "input.text.tokens"), mask: mask),
                    "text/layer3": FeatureBatch(values: try tensor(fixture, "input.text.layer3"), mask: mask)])
        let tape = Tape(training: true, seed: 0)
        let scores = try head.scores(inputs, on: tape)
        expectMatches(tape.value(of: scores), try tensor(fixture, "\(name).scores"), "\(name) scores")

        // Evaluation mode (the graph-free path for the token-level heads) gives the same scores.
        let evaluation = Tape(training: false)
        expectMatches(evaluation.value(of: try head.scores(inputs, on: evaluation)), try tensor(fixture, "\(name).scores"),
                      "\(name) scores in evaluation mode")

        tape.reset()
        let (loss, parts) = try head.loss(inputs, on: tape)
        try tape.backward(loss)
        expectMatches(tape.value(of: loss), try tensor(fixture, "\(name).loss"), "\(name) loss")
        for (part, variable) in parts {
            expectMatches(tape.value(of: variable), try tensor(fixture, "\(name).part.\(part)"), "\(name) \(part) loss")
        }
        #expect(Set(parts.keys) == Set(fixture.keys.filter { $0.hasPrefix("\(name).part.") }.map { String($0.dropFirst("\(name).part.".count)) }))
        for (parameterName, parameter) in head.namedParameters {
            expectMatches(parameter.gradient, try tensor(fixture, "\(name).grad.\(parameterName)"), "\(name) gradient of \(parameterName)",
                          relative: 1e-3)
        }
    }
}
