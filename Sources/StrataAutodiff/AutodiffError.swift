/// Errors raised by the autodiff core: graph construction, losses, module state and optimisation.
public enum AutodiffError: Error, CustomStringConvertible, Equatable {
    /// Operands of an operation have shapes that do not fit it.
    case shapeMismatch(operation: String, shapes: [[Int]])
    /// An argument (axis, probability, target index, ...) is out of range.
    case invalidArgument(operation: String, reason: String)
    /// `backward` was asked for a non-scalar output without an explicit seed gradient.
    case nonScalarLoss(shape: [Int])
    /// A gradient or parameter holds NaN or ±infinity; the run stops here.
    case nonFinite(step: Int, parameter: String, what: String)
    /// The loss is NaN or ±infinity.
    case nonFiniteLoss(step: Int, value: Float)
    /// A state dict lacks a tensor the module needs, or holds one of the wrong shape.
    case stateMismatch(name: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(operation, shapes):
            return "\(operation): shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) do not fit"
        case let .invalidArgument(operation, reason):
            return "\(operation): \(reason)"
        case let .nonScalarLoss(shape):
            return "backward needs a scalar loss or a seed gradient, got shape \(shape)"
        case let .nonFinite(step, parameter, what):
            return "step \(step): the \(what) of parameter '\(parameter)' is not finite (NaN or Inf); stopping"
        case let .nonFiniteLoss(step, value):
            return "step \(step): the loss is \(value); stopping"
        case let .stateMismatch(name, reason):
            return "state tensor '\(name)': \(reason)"
        }
    }
}
