import CStrataKernels

/// A gemm operand laid out once in the panel order Strata's AVX-512 kernels read, for weights that many
/// products reuse: a convolution's `W[Cout, Cin·kh·kw]` (the left operand) or a linear layer's `Wᵀ` (the right).
///
/// Packing costs one pass over the matrix, which products would otherwise repeat on every call. Results are
/// bit for bit those of the unpacked matrix. A product given a packed operand still receives the plain one, which
/// OpenBLAS uses when Strata's kernels do not run.
public final class PackedMatrix: @unchecked Sendable {
    /// Which side of the product the matrix is.
    public enum Side: Sendable { case left, right }

    /// `left`: `op(A)` of `C = op(A)·op(B)`; `right`: `op(B)`.
    public let side: Side
    /// The operand's shape after its transpose: `m × k` on the left, `k × n` on the right.
    public let rows: Int, columns: Int
    let storage: UnsafeMutablePointer<Float>

    /// Packs `op(X)` (`rows × columns`) for `side`, `X` stored row-major with rows `leadingDimension` floats
    /// apart (`columns × rows` when `transposed`); nil when Strata's kernels are not the default backend.
    public init?(side: Side, transposed: Bool, rows: Int, columns: Int, data: UnsafePointer<Float>,
                 leadingDimension: Int) {
        guard GemmBackend.usesStrataKernels, rows > 0, columns > 0 else { return nil }
        precondition(leadingDimension >= (transposed ? rows : columns), "PackedMatrix: leading dimension too small")
        self.side = side
        self.rows = rows
        self.columns = columns
        let count = side == .left ? strata_sgemm_packed_a_count(rows, columns) : strata_sgemm_packed_b_count(rows, columns)
        // 64-byte aligned: the kernels load right-side panels with aligned vector loads.
        storage = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Float>.stride * count, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        if side == .left {
            strata_sgemm_pack_a(transposed ? 1 : 0, rows, columns, data, leadingDimension, storage)
        } else {
            strata_sgemm_pack_b(transposed ? 1 : 0, rows, columns, data, leadingDimension, storage)
        }
    }

    /// Packs a tensor viewed as the matrix `[shape[0], rest]`, transposed first when `transposed`; nil when
    /// Strata's kernels are not the default backend.
    public static func pack(_ tensor: Tensor, side: Side, transposed: Bool = false) throws -> PackedMatrix? {
        try Kernels.requireF32(tensor, "PackedMatrix")
        guard tensor.rank >= 2 else {
            throw TensorError.invalidArgument(operation: "PackedMatrix", reason: "needs a matrix, got shape \(tensor.shape)")
        }
        let stored = (tensor.shape[0], tensor.count / max(1, tensor.shape[0]))
        let shape = transposed ? (stored.1, stored.0) : stored
        return tensor.withUnsafeFloats { p in
            guard let base = p.baseAddress else { return nil }
            return PackedMatrix(side: side, transposed: transposed, rows: shape.0, columns: shape.1, data: base,
                                leadingDimension: stored.1)
        }
    }

    deinit { storage.deallocate() }
}
