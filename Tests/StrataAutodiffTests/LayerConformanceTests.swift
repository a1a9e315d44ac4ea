import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

/// Layers against PyTorch's forward values and gradients (fixtures of make_train_fixtures.py).
@Suite("Layers vs PyTorch")
struct LayerConformanceTests {
    /// Loads `name`'s state dict into `module`, runs `forward` on the fixture inputs in evaluation mode,
    /// back-propagates the fixture's seed and compares output and every gradient.
    func check(_ name: String, _ module: Module, inputs: [String],
               forward: (Tape, [String: Variable], [String: Tensor]) throws -> Variable) throws {
        let fixture = try Fixture.load(name)
        var state: [String: Tensor] = [:]
        for (key, value) in fixture where key.hasPrefix("param.") { state[String(key.dropFirst(6))] = value }
        try module.load(stateDict: state)
        module.parameters.forEach { $0.zeroGradient() }
        let tape = Tape(training: false)
        var variables: [String: Variable] = [:]
        for input in inputs { variables[input] = tape.input(try tensor(fixture, "input.\(input)")) }
        let output = try forward(tape, variables, fixture)
        var worst = expectMatches(tape.value(of: output), try tensor(fixture, "output"), "\(name) output")
        try tape.backward(output, seed: try tensor(fixture, "seed"))
        for input in inputs {
            worst = max(worst, expectMatches(tape.gradient(of: try variables.named(input)),
                                             try tensor(fixture, "grad.input.\(input)"), "\(name) d\(input)"))
        }
        for (parameterName, parameter) in module.namedParameters {
            worst = max(worst, expectMatches(parameter.gradient, try tensor(fixture, "grad.param.\(parameterName)"),
                                             "\(name) d\(parameterName)"))
        }
        print("conformance \(name): max|a-b| = \(worst)")
    }

    @Test("Linear")
    func linear() throws {
        var generator = SeededGenerator(seed: 1)
        let layer = Linear(6, 5, generator: &generator)
        try check("linear", layer, inputs: ["x"]) { tape, v, _ in try layer.forward(try v.named("x"), on: tape) }
    }

    @Test("LayerNorm")
    func layerNorm() throws {
        let layer = LayerNorm(7)
        try check("layer_norm", layer, inputs: ["x"]) { tape, v, _ in try layer.forward(try v.named("x"), on: tape) }
    }

    @Test("projector Linear → ReLU → LayerNorm with the seed's state_dict names")
    func projector() throws {
        var generator = SeededGenerator(seed: 2)
        let layer = Projector(8, 6, generator: &generator)
        #expect(layer.namedParameters.map(\.name) == ["projection.0.weight", "projection.0.bias",
                                                      "projection.2.weight", "projection.2.bias"])
        try check("projector", layer, inputs: ["x"]) { tape, v, _ in try layer.forward(try v.named("x"), on: tape) }
    }

    @Test("Sequential with GELU, Dropout (eval), Tanh and Sigmoid")
    func sequential() throws {
        var generator = SeededGenerator(seed: 3)
        let layer = Sequential([Linear(5, 9, generator: &generator), ActivationLayer(.gelu), Dropout(0.1),
                                Linear(9, 4, generator: &generator), ActivationLayer(.tanh),
                                Linear(4, 3, generator: &generator), ActivationLayer(.sigmoid)])
        try check("sequential", layer, inputs: ["x"]) { tape, v, _ in try layer.forward(try v.named("x"), on: tape) }
    }

    @Test("MultiheadAttention, cross attention with key_padding_mask")
    func crossAttention() throws {
        var generator = SeededGenerator(seed: 4)
        let layer = try MultiheadAttention(embedDim: 16, heads: 4, dropout: 0.1, generator: &generator)
        #expect(layer.namedParameters.map(\.name) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        try check("mha_cross", layer, inputs: ["query", "key", "value"]) { tape, v, fixture in
            try layer.forward(query: try v.named("query"), key: try v.named("key"), value: try v.named("value"),
                              keyPaddingMask: try tensor(fixture, "other.key_padding_mask"), on: tape)
        }
    }

    @Test("MultiheadAttention, self attention with 8 heads")
    func selfAttention() throws {
        var generator = SeededGenerator(seed: 5)
        let layer = try MultiheadAttention(embedDim: 32, heads: 8, generator: &generator)
        try check("mha_self", layer, inputs: ["x"]) { tape, v, _ in
            try layer.forward(query: try v.named("x"), key: try v.named("x"), value: try v.named("x"), on: tape)
        }
    }

    @Test("cross-attention block: attention, residual and LayerNorm with padding")
    func crossAttentionBlock() throws {
        var generator = SeededGenerator(seed: 6)
        let block = try CrossAttentionBlock(dim: 16, heads: 8, generator: &generator)
        try check("cross_attention_block", block, inputs: ["text", "image"]) { tape, v, fixture in
            try block.forward(query: try v.named("text"), context: try v.named("image"),
                              contextPaddingMask: try tensor(fixture, "other.key_padding_mask"), on: tape)
        }
    }

    @Test("functional ops: softmax, log-softmax, GELU, sigmoid, tanh, ReLU, normalize, masked mean")
    func functional() throws {
        let fixture = try Fixture.load("functional")
        let x = try tensor(fixture, "input.x")
        let mask = try tensor(fixture, "other.mask")
        let ops: [(String, (Tape, Variable) throws -> Variable)] = [
            ("softmax", { try $0.softmax($1) }), ("log_softmax", { try $0.logSoftmax($1) }),
            ("gelu", { $0.gelu($1) }), ("sigmoid", { $0.sigmoid($1) }), ("tanh", { $0.tanh($1) }),
            ("relu", { $0.relu($1) }), ("normalize", { try $0.l2Normalize($1) }),
            ("masked_mean", { try $0.maskedMean($1, mask: mask) }),
        ]
        for (name, op) in ops {
            let tape = Tape()
            let v = tape.input(x)
            let y = try op(tape, v)
            expectMatches(tape.value(of: y), try tensor(fixture, "\(name).output"), "\(name) value")
            try tape.backward(y, seed: try tensor(fixture, "\(name).seed"))
            expectMatches(tape.gradient(of: v), try tensor(fixture, "\(name).grad"), "\(name) gradient")
        }
    }
}
