/// The element types a checkpoint or safetensors file may store, under their safetensors names: the
/// one table of those names and sizes, which `DType`, the safetensors reader and the PyTorch readers use.
public enum StoredDType: String, CaseIterable, Sendable {
    /// IEEE floats of 64, 32 and 16 bits, and bfloat16.
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    /// Signed integers of 64, 32, 16 and 8 bits.
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    /// Unsigned integers of 64, 32, 16 and 8 bits, and one-byte booleans.
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    /// The two 8-bit float formats (4-bit exponent and 3-bit mantissa; 5 and 2).
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// The safetensors spelling (`F32`, `BF16`, `I64`, ...).
    public var name: String { rawValue }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// Whether `floatLoader` converts the type: the float, signed integer, `U8` and `BOOL` types.
    public var convertsToFloat: Bool {
        withUnsafeBytes(of: UInt64(0)) { bytes in bytes.baseAddress.map { floatLoader($0) != nil } ?? false }
    }

    /// A reader of element `i` of the bytes at `base` as `Float`, for the float, signed integer, `U8`
    /// and `BOOL` types (nil for F8 and the wider unsigned types, which state dicts do not hold).
    public func floatLoader(_ base: UnsafeRawPointer) -> ((Int) -> Float)? {
        switch self {
        case .f32: return { base.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        case .f16: return { HalfConversion.float(f16Bits: base.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        case .bf16: return { HalfConversion.float(bf16Bits: base.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        case .f64: return { Float(base.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) }
        case .i64: return { Float(base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return { Float(base.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .i16: return { Float(base.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        case .i8: return { Float(base.load(fromByteOffset: $0, as: Int8.self)) }
        case .u8, .bool: return { Float(base.load(fromByteOffset: $0, as: UInt8.self)) }
        case .u64, .u32, .u16, .f8e4m3, .f8e5m2: return nil
        }
    }
}
