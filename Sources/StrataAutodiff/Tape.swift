import StrataTensor

/// A value recorded on a `Tape`: an index into its nodes. Only meaningful for the tape that made it,
/// until that tape's next `reset()`.
public struct Variable: Hashable, Sendable {
    /// The node's position on the tape.
    public let id: Int
}

/// Reverse-mode automatic differentiation: a tape of nodes, each with a backward closure.
///
/// Every operation (`tape.linear(x, …)`, `tape.relu(x)`, …) computes its value at once with the
/// StrataTensor kernels and appends a node whose closure, run by `backward(_:)` in reverse order,
/// adds the node's gradient contribution to its inputs' gradients (gemm for products).
///
/// Why a tape rather than layer-wise forward/backward: heads compose the same few operations in many
/// ways (two attention directions sharing weights, pooled and unpooled paths, several losses on one
/// graph); a tape differentiates any such composition without each layer hand-writing its backward,
/// while the per-operation backward rules stay small enough to check one by one against finite
/// differences.
///
/// Memory: the tape keeps each node's value, gradient and saved-for-backward buffers after `reset()`.
/// A training loop records the same sequence of operations every step, so node *i* of the next step
/// reuses node *i*'s buffers (`Tensor.prepareOutput`) and the steady state allocates no tensor
/// storage. A value the caller still holds (`value(of:)`) is never overwritten: its slot gets fresh
/// storage instead. Gradients are zeroed lazily, only for nodes that receive one.
///
/// Parameters enter through `parameter(_:)`; their gradients accumulate in `Parameter.gradient`.
///
/// A training step:
/// ```swift
/// let tape = Tape(training: true, seed: 1)
/// let optimizer = AdamW(model.namedParameters, learningRate: 1e-4)
/// for step in 0..<steps {
///     tape.reset()                       // keeps the buffers, forgets the graph
///     optimizer.zeroGradients()
///     let image = try imageProjector.forward(tape.constant(imageBatch), on: tape)
///     let text = try textProjector.forward(tape.constant(textBatch), on: tape)
///     let loss = try tape.symmetricInfoNCE(image: image, text: text,
///                                          temperature: .learnable(logitScale: tape.parameter(logitScale)))
///     try FiniteCheck.loss(tape.scalar(loss), step: step)
///     try tape.backward(loss)
///     GradientClipping.clipGlobalNorm(optimizer.namedParameters.map(\.parameter), maxNorm: 1)
///     optimizer.learningRate = schedule.learningRate(base: 1e-4, at: step)
///     try optimizer.step()               // throws, naming step and parameter, on NaN/Inf gradients
/// }
/// ```
public final class Tape {
    struct Node {
        var requiresGrad: Bool
        var parameter: Parameter?
        /// The value slot holds someone else's storage (a view or a caller's tensor): release it on reset.
        var borrowsValue: Bool
        var backward: ((Tape) -> Void)?
    }

    var nodes: [Node] = []
    var values: [Tensor] = []
    var grads: [Tensor] = []
    var gradReady: [Bool] = []
    var saved: [Tensor] = []
    /// Scratch memory for backward passes.
    let workspace = Workspace()

    /// Whether dropout is active (PyTorch's `module.train()`); false means evaluation mode.
    public var isTraining: Bool
    /// The random stream dropout draws from.
    public var generator: SeededGenerator

    static let empty = Tensor(zeros: [0])

    /// A tape in training or evaluation mode whose dropout masks come from `seed`.
    public init(training: Bool = true, seed: UInt64 = 0) {
        isTraining = training
        generator = SeededGenerator(seed: seed)
    }

    /// Number of nodes recorded since the last reset.
    public var count: Int { nodes.count }

    /// Forgets the recorded graph, keeping the buffers for the next one.
    public func reset() {
        for (index, node) in nodes.enumerated() where node.borrowsValue {
            values[index] = Tape.empty
        }
        nodes.removeAll(keepingCapacity: true)
    }

    // MARK: Leaves

    /// A constant input: no gradient flows to it.
    public func constant(_ tensor: Tensor) -> Variable {
        leaf(tensor.converted(to: .f32), requiresGrad: false)
    }

    /// An input whose gradient `gradient(of:)` reports after `backward`.
    public func input(_ tensor: Tensor) -> Variable {
        leaf(tensor.converted(to: .f32), requiresGrad: true)
    }

    /// A trainable parameter; `backward` adds to its `gradient`.
    public func parameter(_ parameter: Parameter) -> Variable {
        let id = reserve()
        nodes.append(Node(requiresGrad: true, parameter: parameter, borrowsValue: false, backward: nil))
        return Variable(id: id)
    }

    private func leaf(_ tensor: Tensor, requiresGrad: Bool) -> Variable {
        let id = reserve()
        values[id] = tensor
        nodes.append(Node(requiresGrad: requiresGrad, parameter: nil, borrowsValue: true, backward: nil))
        return Variable(id: id)
    }

    // MARK: Reading results

    /// The value of `variable`.
    public func value(of variable: Variable) -> Tensor {
        nodes[variable.id].parameter?.value ?? values[variable.id]
    }

    /// The shape of `variable`'s value.
    public func shape(of variable: Variable) -> [Int] {
        nodes[variable.id].parameter?.value.shape ?? values[variable.id].shape
    }

    /// The single element of a one-element value (a loss).
    public func scalar(_ variable: Variable) -> Float {
        valuePointer(variable.id)[0]
    }

    /// The gradient of `variable` after `backward`, or nil when none reached it.
    public func gradient(of variable: Variable) -> Tensor? {
        if let parameter = nodes[variable.id].parameter { return parameter.gradient }
        return variable.id < gradReady.count && gradReady[variable.id] ? grads[variable.id] : nil
    }

    // MARK: Backward

    /// Back-propagates from `output`: with `seed` nil the output must hold one element and its gradient
    /// is 1; otherwise `seed` (same shape) is the output's gradient.
    public func backward(_ output: Variable, seed: Tensor? = nil) throws {
        let shape = self.shape(of: output)
        if let seed {
            guard seed.shape == shape else {
                throw AutodiffError.shapeMismatch(operation: "backward", shapes: [shape, seed.shape])
            }
        } else if Tensor.elementCount(shape) != 1 {
            throw AutodiffError.nonScalarLoss(shape: shape)
        }
        for index in gradReady.indices { gradReady[index] = false }
        guard nodes[output.id].requiresGrad else { return }
        let g = gradPointer(output.id)
        if let seed {
            let source = seed.converted(to: .f32)
            source.withUnsafeFloats { s in
                for i in 0..<s.count { g[i] += s[i] }
            }
        } else {
            g[0] += 1
        }
        for index in stride(from: output.id, through: 0, by: -1) {
            let node = nodes[index]
            guard node.requiresGrad, let backward = node.backward, gradReady[index] else { continue }
            backward(self)
        }
    }

    // MARK: Building operations (for the op files)

    /// Makes room for node `nodes.count` and returns its index.
    func reserve() -> Int {
        let id = nodes.count
        if values.count <= id {
            values.append(Tape.empty)
            grads.append(Tape.empty)
            gradReady.append(false)
            saved.append(Tape.empty)
        }
        gradReady[id] = false
        return id
    }

    /// Whether any of `inputs` needs a gradient.
    func needsGrad(_ inputs: [Variable]) -> Bool {
        inputs.contains { nodes[$0.id].requiresGrad }
    }

    /// Whether `variable` needs a gradient.
    func needsGrad(_ variable: Variable) -> Bool { nodes[variable.id].requiresGrad }

    /// Reserves the next node and prepares its value buffer as `shape`; returns the id and the buffer.
    func output(shape: [Int]) -> (Int, UnsafeMutablePointer<Float>) {
        let id = reserve()
        values[id].prepareOutput(shape: shape)
        return (id, values[id].storage.bytes.assumingMemoryBound(to: Float.self))
    }

    /// Appends the node whose value was prepared by `output(shape:)`.
    @discardableResult
    func record(_ id: Int, inputs: [Variable], borrowsValue: Bool = false,
                backward: @escaping (Tape) -> Void) -> Variable {
        precondition(id == nodes.count, "nodes must be recorded in order")
        let requiresGrad = needsGrad(inputs)
        nodes.append(Node(requiresGrad: requiresGrad, parameter: nil, borrowsValue: borrowsValue,
                          backward: requiresGrad ? backward : nil))
        return Variable(id: id)
    }

    /// A node whose value shares `tensor`'s storage (reshape).
    func recordView(_ tensor: Tensor, inputs: [Variable], backward: @escaping (Tape) -> Void) -> Variable {
        let id = reserve()
        values[id] = tensor
        return record(id, inputs: inputs, borrowsValue: true, backward: backward)
    }

    /// Read-only elements of node `id`'s value.
    func valuePointer(_ id: Int) -> UnsafeMutablePointer<Float> {
        if let parameter = nodes[id].parameter {
            return parameter.value.storage.bytes.assumingMemoryBound(to: Float.self)
        }
        return values[id].storage.bytes.assumingMemoryBound(to: Float.self)
    }

    /// Elements of node `id`'s gradient, zeroed the first time they are asked for in a backward pass.
    func gradPointer(_ id: Int) -> UnsafeMutablePointer<Float> {
        if let parameter = nodes[id].parameter {
            return parameter.gradient.storage.bytes.assumingMemoryBound(to: Float.self)
        }
        if !gradReady[id] {
            let shape = values[id].shape
            grads[id].prepareOutput(shape: shape)
            let p = grads[id].storage.bytes.assumingMemoryBound(to: Float.self)
            p.update(repeating: 0, count: Tensor.elementCount(shape))
            gradReady[id] = true
        }
        return grads[id].storage.bytes.assumingMemoryBound(to: Float.self)
    }

    /// A saved-for-backward buffer of node `id`, `count` floats (contents unspecified).
    func savedPointer(_ id: Int, count: Int) -> UnsafeMutablePointer<Float> {
        saved[id].prepareOutput(shape: [count])
        return saved[id].storage.bytes.assumingMemoryBound(to: Float.self)
    }

    /// The saved buffer of node `id` prepared by `savedPointer(_:count:)`.
    func savedBuffer(_ id: Int) -> UnsafeMutablePointer<Float> {
        saved[id].storage.bytes.assumingMemoryBound(to: Float.self)
    }
}
