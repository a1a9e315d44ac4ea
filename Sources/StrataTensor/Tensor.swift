/// Owned, 64-byte aligned memory behind a `Tensor`.
///
/// Storage is a reference type so tensors can share it; `Tensor` copies it before writing when it is
/// shared (copy-on-write), so value semantics hold.
public final class TensorStorage: @unchecked Sendable {
    /// Start of the bytes.
    public let bytes: UnsafeMutableRawPointer
    /// Number of bytes owned.
    public let byteCount: Int

    /// Allocates `byteCount` zeroed bytes.
    public init(byteCount: Int) {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    /// Allocates storage holding a copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(byteCount: source.count)
        if let base = source.baseAddress, source.count > 0 {
            bytes.copyMemory(from: base, byteCount: source.count)
        }
    }

    deinit { bytes.deallocate() }
}

/// A dense, contiguous, row-major n-dimensional array that owns its storage.
///
/// `Tensor` has value semantics: mutating one copy never changes another. Compute kernels work on
/// `f32`; the other dtypes are for storage and ids, and `converted(to:)` moves between them.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Element type.
    public let dtype: DType
    /// The memory; shared between copies until one of them writes.
    public private(set) var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(byteCount: Tensor.elementCount(shape) * dtype.byteSize)
    }

    /// An `f32` tensor holding `values` in row-major order.
    public init(shape: [Int], floats values: [Float]) throws {
        try Tensor.check(shape: shape, count: values.count)
        self.shape = shape
        dtype = .f32
        storage = values.withUnsafeBytes { TensorStorage(copying: $0) }
    }

    /// An `i32` tensor holding `values` in row-major order.
    public init(shape: [Int], int32s values: [Int32]) throws {
        try Tensor.check(shape: shape, count: values.count)
        self.shape = shape
        dtype = .i32
        storage = values.withUnsafeBytes { TensorStorage(copying: $0) }
    }

    /// A tensor over a copy of raw little-endian element bytes.
    public init(shape: [Int], dtype: DType, bytes: UnsafeRawBufferPointer) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidShape(shape) }
        let expected = Tensor.elementCount(shape) * dtype.byteSize
        guard bytes.count == expected else {
            throw TensorError.countMismatch(shape: shape, expected: expected / dtype.byteSize,
                                            actual: bytes.count / dtype.byteSize)
        }
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(copying: bytes)
    }

    /// Number of elements.
    public var count: Int { Tensor.elementCount(shape) }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of bytes of element data.
    public var byteCount: Int { count * dtype.byteSize }

    /// Row-major strides, in elements.
    public var strides: [Int] { Tensor.strides(shape) }

    /// Row-major strides of `shape`, in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var result = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            result[axis] = running
            running *= shape[axis]
        }
        return result
    }

    /// The product of `shape`'s dimensions.
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    private static func check(shape: [Int], count: Int) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidShape(shape) }
        let expected = elementCount(shape)
        guard expected == count else {
            throw TensorError.countMismatch(shape: shape, expected: expected, actual: count)
        }
    }

    // MARK: Access

    /// Reads the raw element bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.bytes, count: byteCount))
    }

    /// Writes the raw element bytes, copying the storage first if another tensor shares it.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableRawBufferPointer(start: storage.bytes, count: byteCount))
    }

    /// Reads the elements of an `f32` tensor.
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .f32, "withUnsafeFloats needs an f32 tensor, got \(dtype)")
        return try body(UnsafeBufferPointer(start: storage.bytes.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Writes the elements of an `f32` tensor, copying the storage first if it is shared.
    public mutating func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .f32, "withUnsafeMutableFloats needs an f32 tensor, got \(dtype)")
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.bytes.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Reads the elements of an `i32` tensor.
    public func withUnsafeInt32s<R>(_ body: (UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        precondition(dtype == .i32, "withUnsafeInt32s needs an i32 tensor, got \(dtype)")
        return try body(UnsafeBufferPointer(start: storage.bytes.assumingMemoryBound(to: Int32.self), count: count))
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(copying: UnsafeRawBufferPointer(start: storage.bytes, count: byteCount))
        }
    }

    /// The elements as `Float`s, converting from any dtype.
    public var floats: [Float] {
        converted(to: .f32).withUnsafeFloats { Array($0) }
    }

    /// The elements as `Int32`s (floating-point values are truncated toward zero).
    public var int32s: [Int32] {
        if dtype == .i32 { return withUnsafeInt32s { Array($0) } }
        return floats.map { Int32($0) }
    }

    // MARK: Shape

    /// The same elements under another shape with the same element count. Shares storage.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidShape(newShape) }
        guard Tensor.elementCount(newShape) == count else {
            throw TensorError.countMismatch(shape: newShape, expected: Tensor.elementCount(newShape), actual: count)
        }
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Turns this tensor into an `f32` output buffer of `newShape` for a kernel to overwrite.
    ///
    /// The storage is reused when it is uniquely owned, `f32` and large enough (its contents are then
    /// unspecified); otherwise fresh zeroed storage is allocated. Kernels' `into:` forms call this, so a
    /// buffer kept across calls allocates only when it must grow.
    public mutating func prepareOutput(shape newShape: [Int]) {
        precondition(newShape.allSatisfy { $0 >= 0 }, "negative dimension in \(newShape)")
        let needed = Tensor.elementCount(newShape) * DType.f32.byteSize
        if dtype == .f32, storage.byteCount >= needed, isKnownUniquelyReferenced(&storage) {
            if shape != newShape { shape = newShape }
        } else {
            self = Tensor(zeros: newShape, dtype: .f32)
        }
    }

    /// Bytes the storage can hold; at least `byteCount`, more when an output buffer was reused smaller.
    public var capacityInBytes: Int { storage.byteCount }

    // MARK: Conversion

    /// A copy converted to `target` (rounding to nearest even for `f16`/`bf16`, truncating for `i32`).
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        let result = Tensor(zeros: shape, dtype: target)
        let n = count
        let src = storage.bytes
        let dst = result.storage.bytes
        func load(_ i: Int) -> Float {
            switch dtype {
            case .f32: return src.load(fromByteOffset: i * 4, as: Float.self)
            case .i32: return Float(src.load(fromByteOffset: i * 4, as: Int32.self))
            case .f16: return HalfConversion.float(f16Bits: src.load(fromByteOffset: i * 2, as: UInt16.self))
            case .bf16: return HalfConversion.float(bf16Bits: src.load(fromByteOffset: i * 2, as: UInt16.self))
            }
        }
        switch target {
        case .f32:
            let out = dst.assumingMemoryBound(to: Float.self)
            for i in 0..<n { out[i] = load(i) }
        case .i32:
            let out = dst.assumingMemoryBound(to: Int32.self)
            for i in 0..<n {
                let value = load(i)
                out[i] = value.isFinite ? Int32(clamping: Int64(value.rounded(.towardZero))) : 0
            }
        case .f16:
            let out = dst.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { out[i] = HalfConversion.f16Bits(load(i)) }
        case .bf16:
            let out = dst.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { out[i] = HalfConversion.bf16Bits(load(i)) }
        }
        return result
    }

    public var description: String { "Tensor<\(dtype)>\(shape)" }
}
