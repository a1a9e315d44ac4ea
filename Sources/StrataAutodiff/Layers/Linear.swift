import StrataTensor

/// `nn.Linear(in, out)`: `y = x · Wᵀ + b`, parameters `weight` `[out, in]` and `bias` `[out]`.
public final class Linear: Layer {
    /// `[out, in]`.
    public let weight: Parameter
    /// `[out]`, or nil for `bias=False`.
    public let bias: Parameter?

    /// PyTorch's default initialisation: weight and bias uniform in `±1/√in`, drawn from `generator`.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: inout SeededGenerator) {
        let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
        weight = Parameter(Initializer.uniform([outFeatures, inFeatures], bound: bound, generator: &generator))
        self.bias = bias ? Parameter(Initializer.uniform([outFeatures], bound: bound, generator: &generator)) : nil
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable {
        try tape.linear(x, weight: tape.parameter(weight), bias: bias.map { tape.parameter($0) })
    }
}

/// `nn.LayerNorm(width)` over the last dimension: parameters `weight` (ones) and `bias` (zeros).
public final class LayerNorm: Layer {
    /// `[width]`, starts at 1.
    public let weight: Parameter
    /// `[width]`, starts at 0.
    public let bias: Parameter
    /// Added to the variance (PyTorch's default 1e-5).
    public let eps: Float

    /// A layer norm over `width` features.
    public init(_ width: Int, eps: Float = 1e-5) {
        weight = Parameter(Initializer.filled([width], 1))
        bias = Parameter(Initializer.filled([width], 0))
        self.eps = eps
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable {
        try tape.layerNorm(x, weight: tape.parameter(weight), bias: tape.parameter(bias), eps: eps)
    }
}

/// `nn.Dropout(p)`: active only while the tape is training.
public final class Dropout: Layer {
    /// The probability of zeroing an element.
    public let p: Float

    /// Dropout with probability `p`.
    public init(_ p: Float) { self.p = p }

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable { try tape.dropout(x, p: p) }
}

/// A parameter-free element-wise activation layer (`nn.ReLU`, `nn.GELU`, `nn.Tanh`, `nn.Sigmoid`).
public final class ActivationLayer: Layer {
    /// The functions available.
    public enum Function: Sendable { case relu, gelu, tanh, sigmoid }
    /// The function applied.
    public let function: Function

    /// A layer applying `function`.
    public init(_ function: Function) { self.function = function }

    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable {
        switch function {
        case .relu: return tape.relu(x)
        case .gelu: return tape.gelu(x)
        case .tanh: return tape.tanh(x)
        case .sigmoid: return tape.sigmoid(x)
        }
    }
}

/// `nn.Sequential`: layers applied in order, their parameters named `0.…`, `1.…`, ….
public final class Sequential: Layer {
    /// The layers, in order.
    public let layers: [Layer]

    /// A chain of `layers`.
    public init(_ layers: [Layer]) { self.layers = layers }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.enumerated().flatMap { prefixed(String($0.offset), $0.element) }
    }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable {
        try layers.reduce(x) { try $1.forward($0, on: tape) }
    }
}

/// The design notes' feature projector: `projection = Sequential(Linear(in, out), ReLU(), LayerNorm(out))`,
/// so its `state_dict` names are `projection.0.weight`, `projection.0.bias`, `projection.2.weight`,
/// `projection.2.bias`.
public final class Projector: Layer {
    /// The Linear → ReLU → LayerNorm chain.
    public let projection: Sequential

    /// A projector from `inFeatures` to `outFeatures`.
    public init(_ inFeatures: Int, _ outFeatures: Int, generator: inout SeededGenerator) {
        projection = Sequential([Linear(inFeatures, outFeatures, generator: &generator),
                                 ActivationLayer(.relu), LayerNorm(outFeatures)])
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { prefixed("projection", projection) }

    public func forward(_ x: Variable, on tape: Tape) throws -> Variable { try projection.forward(x, on: tape) }
}
