/// The element types a `Tensor` can hold.
///
/// Compute happens in `f32`; `f16` and `bf16` are storage types (the cache keeps features in them),
/// and `i32` holds token ids and masks.
public enum DType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case f32
    case f16
    case bf16
    case i32

    /// The same type in the table of stored element types.
    public var stored: StoredDType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .i32: return .i32
        }
    }

    /// Bytes per element.
    public var byteSize: Int { stored.size }

    /// Whether the type holds floating-point values.
    public var isFloatingPoint: Bool { self != .i32 }

    /// The safetensors spelling of the type: `F32`, `F16`, `BF16`, `I32`.
    public var safetensorsName: String { stored.name }

    /// The type a safetensors dtype string names, if `Tensor` holds it.
    public init?(safetensorsName name: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == name }) else { return nil }
        self = match
    }

    public var description: String { rawValue }
}

/// Conversions between `Float` and the 16-bit storage formats, rounding to nearest even.
public enum HalfConversion {
    /// Rounds a `Float` to bfloat16 (round to nearest, ties to even; NaN stays NaN).
    @inlinable
    public static func bf16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// Widens bfloat16 bits to a `Float` exactly.
    @inlinable
    public static func float(bf16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds a `Float` to IEEE half precision bits (round to nearest even, overflow to infinity).
    @inlinable
    public static func f16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Widens IEEE half precision bits to a `Float` exactly.
    @inlinable
    public static func float(f16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}
