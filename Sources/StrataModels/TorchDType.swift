import StrataTensor

/// The element types of `torch.*Storage` classes a state dict may name.
enum TorchDType: String, CaseIterable, Sendable {
    case float32 = "FloatStorage", float16 = "HalfStorage", bfloat16 = "BFloat16Storage", float64 = "DoubleStorage"
    case int64 = "LongStorage", int32 = "IntStorage", int16 = "ShortStorage", int8 = "CharStorage"
    case uint8 = "ByteStorage", bool = "BoolStorage"

    /// Bytes per element.
    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The safetensors spelling of the dtype, used in errors and listings.
    var name: String {
        switch self {
        case .float32: return "F32"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .float64: return "F64"
        case .int64: return "I64"
        case .int32: return "I32"
        case .int16: return "I16"
        case .int8: return "I8"
        case .uint8: return "U8"
        case .bool: return "BOOL"
        }
    }
}

extension TorchDType {
    /// The dtype of a safetensors dtype string, if it is one of these.
    init?(safetensors name: String) {
        guard let match = TorchDType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Reads element `i` of storage bytes at `base` as `Float`.
    func floatLoader(_ base: UnsafeRawPointer) -> (Int) -> Float {
        switch self {
        case .float32: return { base.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        case .float16: return { HalfConversion.float(f16Bits: base.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        case .bfloat16: return { HalfConversion.float(bf16Bits: base.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        case .float64: return { Float(base.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) }
        case .int64: return { Float(base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .int32: return { Float(base.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .int16: return { Float(base.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        case .int8: return { Float(base.load(fromByteOffset: $0, as: Int8.self)) }
        case .uint8, .bool: return { Float(base.load(fromByteOffset: $0, as: UInt8.self)) }
        }
    }
}
