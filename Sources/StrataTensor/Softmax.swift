extension Kernels {
    /// Numerically stable softmax of each of `rows` rows of `columns` floats, in place.
    ///
    /// Each row has its maximum subtracted before `exp`. A row whose entries are all `-inf` (every key
    /// masked) becomes all zeros rather than NaN.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        guard columns > 0 else { return }
        for r in 0..<rows {
            let row = x + r * columns
            let top = FastMath.max(row, count: columns)
            if top == -.infinity {
                row.update(repeating: 0, count: columns)
                continue
            }
            for j in 0..<columns { row[j] = FastMath.exp(row[j] - top) }
            let scale = 1 / FastMath.sum(row, count: columns)
            for j in 0..<columns { row[j] *= scale }
        }
    }

    /// Softmax over the last dimension (stable; an all `-inf` row gives zeros).
    public static func softmax(_ x: Tensor) throws -> Tensor {
        var y = x
        try softmaxInPlace(&y)
        return y
    }

    /// Softmax over the last dimension, in place (stable; an all `-inf` row gives zeros).
    public static func softmaxInPlace(_ x: inout Tensor) throws {
        try requireF32(x, "softmax")
        guard x.rank >= 1 else { throw TensorError.invalidArgument(operation: "softmax", reason: "x is a scalar") }
        let columns = x.shape[x.rank - 1]
        x.withUnsafeMutableFloats { p in
            guard let base = p.baseAddress, columns > 0 else { return }
            softmaxRows(base, rows: p.count / columns, columns: columns)
        }
    }
}
