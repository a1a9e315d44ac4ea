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
    /// A file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// A safetensors file breaks the format, or holds no tensor or no usable tensor of a name asked for.
    case safetensors(file: String, fault: SafetensorsFault)

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
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .safetensors(file, fault):
            return "\(file): \(fault)"
        }
    }
}

/// What is wrong with a safetensors file; `TensorError.safetensors` names the file.
public enum SafetensorsFault: Sendable, Equatable, CustomStringConvertible {
    /// The file ends before the header it announces.
    case truncated(reason: String)
    /// The JSON header is malformed (not an object, bad length, not UTF-8 JSON, bad `__metadata__`).
    case badHeader(reason: String)
    /// One tensor's header entry is malformed (missing or wrongly typed `dtype`, `shape`, `data_offsets`).
    case badTensorEntry(tensor: String, reason: String)
    /// A tensor's dtype is not one the format defines.
    case unknownDType(tensor: String, dtype: String)
    /// A tensor's dtype is one the format defines but `Tensor` does not hold (I64, U8, F64, ...).
    case unsupportedDType(tensor: String, dtype: String)
    /// The byte range of a tensor does not match its shape and dtype.
    case byteCountMismatch(tensor: String, shape: [Int], dtype: String, expected: Int, actual: Int)
    /// A tensor's byte range reaches past the end of the file.
    case outOfBounds(tensor: String, end: Int, dataSize: Int)
    /// Two tensors' byte ranges overlap.
    case overlapping(tensor: String, other: String)
    /// Bytes of the data section belong to no tensor (a gap between tensors or trailing bytes).
    case uncoveredBytes(offset: Int, count: Int)
    /// No tensor of this name is in the file.
    case missingTensor(tensor: String)

    public var description: String {
        switch self {
        case let .truncated(reason):
            return "truncated safetensors file: \(reason)"
        case let .badHeader(reason):
            return "bad safetensors header: \(reason)"
        case let .badTensorEntry(tensor, reason):
            return "tensor '\(tensor)': bad header entry: \(reason)"
        case let .unknownDType(tensor, dtype):
            return "tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .unsupportedDType(tensor, dtype):
            return "tensor '\(tensor)': unsupported dtype \(dtype) (F32, F16, BF16 and I32 are read as they are)"
        case let .byteCountMismatch(tensor, shape, dtype, expected, actual):
            return "tensor '\(tensor)': shape \(shape) of \(dtype) needs \(expected) bytes, its data_offsets span \(actual)"
        case let .outOfBounds(tensor, end, dataSize):
            return "tensor '\(tensor)': data ends at byte \(end), past the \(dataSize) bytes of data in the file"
        case let .overlapping(tensor, other):
            return "tensor '\(tensor)': its bytes overlap those of '\(other)'"
        case let .uncoveredBytes(offset, count):
            return "\(count) data bytes at offset \(offset) belong to no tensor"
        case let .missingTensor(tensor):
            return "missing tensor '\(tensor)'"
        }
    }
}
