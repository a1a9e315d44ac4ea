import StrataTensor

/// Something with named parameters, named like the equivalent PyTorch module's `state_dict`.
public protocol Module: AnyObject {
    /// The parameters with their `state_dict` names (children's names prefixed `child.`), in a stable order.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
}

/// A module that maps one variable to another (what `Sequential` chains).
public protocol Layer: Module {
    /// Records the layer's forward computation on `tape`.
    func forward(_ x: Variable, on tape: Tape) throws -> Variable
}

extension Module {
    /// The parameters alone, in `namedParameters` order.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// The values by name, as PyTorch's `module.state_dict()` (parameters only; no buffers).
    public var stateDict: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.parameter.value) })
    }

    /// Sets every parameter from `state`, which must hold each name with the right shape (`strict`).
    public func load(stateDict state: [String: Tensor]) throws {
        let named = namedParameters
        for (name, parameter) in named {
            guard let tensor = state[name] else {
                throw AutodiffError.stateMismatch(name: name, reason: "missing from the checkpoint")
            }
            try parameter.assign(tensor, name: name)
        }
        let known = Set(named.map(\.name))
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw AutodiffError.stateMismatch(name: extra, reason: "not a parameter of this module")
        }
    }

    /// Parameters of `child` with its names under `prefix.`.
    public func prefixed(_ prefix: String, _ child: Module) -> [(name: String, parameter: Parameter)] {
        child.namedParameters.map { ("\(prefix).\($0.name)", $0.parameter) }
    }
}

/// Initial parameter values: uniform samples in `[-bound, bound)` (PyTorch's default schemes) and constants.
public enum Initializer {
    /// A tensor of `shape` with samples uniform in `[-bound, bound)` drawn from `generator`.
    public static func uniform(_ shape: [Int], bound: Float, generator: inout SeededGenerator) -> Tensor {
        var tensor = Tensor(zeros: shape)
        tensor.withUnsafeMutableFloats { p in
            for i in 0..<p.count { p[i] = (2 * generator.nextUnitFloat() - 1) * bound }
        }
        return tensor
    }

    /// A tensor of `shape` with every element `value`.
    public static func filled(_ shape: [Int], _ value: Float) -> Tensor {
        var tensor = Tensor(zeros: shape)
        if value != 0 {
            tensor.withUnsafeMutableFloats { p in
                if let base = p.baseAddress { base.update(repeating: value, count: p.count) }
            }
        }
        return tensor
    }
}
