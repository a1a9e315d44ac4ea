/// Errors raised by tensor construction and the compute kernels.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// The element count implied by a shape does not match the data supplied.
    case countMismatch(shape: [Int], expected: Int, actual: Int)
    /// A shape has a negative dimension.
    case invalidShape([Int])
    /// An operation needs a different dtype than it was given.
    case dtypeMismatch(operation: String, expected: DType, actual: DType)
    /// Two operands' shapes do not fit the operation.
    case shapeMismatch(operation: String, lhs: [Int], rhs: [Int])
    /// A parameter (stride, padding, axis, ...) is out of range for the operation.
    case invalidArgument(operation: String, reason: String)

    public var description: String {
        switch self {
        case let .countMismatch(shape, expected, actual):
            return "shape \(shape) needs \(expected) elements, but \(actual) were given"
        case let .invalidShape(shape):
            return "invalid shape \(shape): dimensions must be non-negative"
        case let .dtypeMismatch(operation, expected, actual):
            return "\(operation) needs a \(expected) tensor, got \(actual)"
        case let .shapeMismatch(operation, lhs, rhs):
            return "\(operation): shapes \(lhs) and \(rhs) do not fit"
        case let .invalidArgument(operation, reason):
            return "\(operation): \(reason)"
        }
    }
}
