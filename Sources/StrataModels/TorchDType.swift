import StrataTensor

/// The element types of `torch.*Storage` classes a state dict may name.
enum TorchDType: String, CaseIterable, Sendable {
    case float32 = "FloatStorage", float16 = "HalfStorage", bfloat16 = "BFloat16Storage", float64 = "DoubleStorage"
    case int64 = "LongStorage", int32 = "IntStorage", int16 = "ShortStorage", int8 = "CharStorage"
    case uint8 = "ByteStorage", bool = "BoolStorage"

    /// The stored element type (its size, safetensors name and conversion to `Float`).
    var stored: StoredDType {
        switch self {
        case .float32: return .f32
        case .float16: return .f16
        case .bfloat16: return .bf16
        case .float64: return .f64
        case .int64: return .i64
        case .int32: return .i32
        case .int16: return .i16
        case .int8: return .i8
        case .uint8: return .u8
        case .bool: return .bool
        }
    }

    /// Bytes per element.
    var size: Int { stored.size }

    /// The safetensors spelling of the dtype, used in errors and listings.
    var name: String { stored.name }

    /// Reads element `i` of storage bytes at `base` as `Float` (every storage type converts).
    func floatLoader(_ base: UnsafeRawPointer) -> (Int) -> Float {
        stored.floatLoader(base) ?? { _ in .nan }
    }
}
