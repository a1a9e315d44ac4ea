import CBLAS

extension Kernels {
    // MARK: BLAS threads

    /// The number of threads OpenBLAS uses for each call (process-wide).
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of threads OpenBLAS uses for each call (process-wide; values below 1 mean 1).
    ///
    /// Strata runs one encoder worker per core with one BLAS thread each, so it usually sets 1.
    public static func setBLASThreads(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
    }

    // MARK: Raw gemm

    /// `C = alpha · op(A) · op(B) + beta · C` on row-major matrices, through the default `GemmBackend`.
    ///
    /// `op(A)` is `m × k` and `op(B)` is `k × n`; `A` is stored `m × k` (or `k × m` when `transposeA`)
    /// with rows `lda` floats apart, likewise `B` with `ldb`, and `C` is `m × n` with rows `ldc` apart.
    /// When `beta` is 0, `C` is only written, never read. Dimensions are the caller's responsibility.
    /// With several BLAS threads set (`setBLASThreads`), a large product is shared among that many threads.
    @inlinable
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
             b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, backend: .default)
    }

    /// The same product through a chosen backend (`GemmBackend.default` is what every kernel uses).
    ///
    /// `GemmBackend.strata` falls back to OpenBLAS on a CPU without AVX-512.
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, backend: GemmBackend) {
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
             packedA: nil, b: b, ldb: ldb, packedB: nil, beta: beta, c: c, ldc: ldc, backend: backend)
    }

    /// The product with either operand also given packed (`PackedMatrix`, e.g. a weight packed at load):
    /// Strata's kernels read the packed copy, OpenBLAS the plain one. A packed operand must be the same
    /// `op(A)` (`m × k`, side `.left`) or `op(B)` (`k × n`, side `.right`).
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, packedA: PackedMatrix?,
                            b: UnsafePointer<Float>, ldb: Int, packedB: PackedMatrix?,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            backend: GemmBackend = .default) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension")
        precondition(lda >= max(1, transposeA ? m : k) && ldb >= max(1, transposeB ? k : n) && ldc >= max(1, n),
                     "gemm: leading dimension too small")
        precondition(packedA.map { $0.side == .left && $0.rows == m && $0.columns == k } ?? true,
                     "gemm: packed A is not the m x k left operand")
        precondition(packedB.map { $0.side == .right && $0.rows == k && $0.columns == n } ?? true,
                     "gemm: packed B is not the k x n right operand")
        if m == 0 || n == 0 { return }
        if backend == .strata, GemmBackend.avx512Available,
           StrataGemm.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                          a: a, lda: lda, packedA: packedA, b: b, ldb: ldb, packedB: packedB,
                          beta: beta, c: c, ldc: ldc, threads: gemmThreads) {
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `batchCount` gemms whose matrices sit at fixed strides (in floats) from `a`, `b` and `c`.
    ///
    /// A stride of 0 reuses one matrix for the whole batch (broadcast). With several BLAS threads set and
    /// Strata's kernels in use, the products are shared among the threads, one product per thread at a time.
    public static func gemmStridedBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                          alpha: Float = 1,
                                          a: UnsafePointer<Float>, lda: Int, strideA: Int,
                                          b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                                          beta: Float = 0,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
                                          batchCount: Int) {
        let product = { (index: Int) in
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a + index * strideA, lda: lda, b: b + index * strideB, ldb: ldb,
                 beta: beta, c: c + index * strideC, ldc: ldc)
        }
        if batchCount > 1, strideC != 0, StrataGemm.shareProducts(count: batchCount, run: product) { return }
        for index in 0..<max(0, batchCount) { product(index) }
    }

    /// Gemms over arrays of matrix pointers, all with the same dimensions (`a`, `b`, `c` equally long).
    public static func gemmBatched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                   alpha: Float = 1,
                                   a: [UnsafePointer<Float>], lda: Int,
                                   b: [UnsafePointer<Float>], ldb: Int,
                                   beta: Float = 0,
                                   c: [UnsafeMutablePointer<Float>], ldc: Int) {
        precondition(a.count == b.count && b.count == c.count, "gemmBatched: pointer arrays differ in length")
        for index in c.indices {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a[index], lda: lda, b: b[index], ldb: ldb, beta: beta, c: c[index], ldc: ldc)
        }
    }

    // MARK: Tensor products

    /// The product `alpha · op(a) · op(b)` of 2-D or batched 3-D tensors.
    ///
    /// `op(a)` is `[M, K]` (`a` is `[K, M]` when `transposeA`), `op(b)` is `[K, N]`; with a leading batch
    /// dimension on either operand the result is `[batch, M, N]`, and a 2-D operand is shared by every
    /// batch entry of the other.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                              alpha: Float = 1) throws -> Tensor {
        var out = Tensor(zeros: [])
        try matmul(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: 0, into: &out)
        return out
    }

    /// `out = alpha · op(a) · op(b) + beta · out`, shapes as in `matmul(_:_:transposeA:transposeB:alpha:)`.
    ///
    /// With `beta == 0`, `out` is resized as needed (`Tensor.prepareOutput(shape:)`); otherwise it must
    /// already have the result's shape.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                              alpha: Float = 1, beta: Float, into out: inout Tensor) throws {
        let op = "matmul"
        try requireF32(a, op)
        try requireF32(b, op)
        guard (2...3).contains(a.rank), (2...3).contains(b.rank) else {
            throw TensorError.invalidArgument(operation: op, reason: "operands must be 2-D or 3-D, got \(a.shape) and \(b.shape)")
        }
        let batchA = a.rank == 3 ? a.shape[0] : 1
        let batchB = b.rank == 3 ? b.shape[0] : 1
        guard a.rank == 2 || b.rank == 2 || batchA == batchB else {
            throw TensorError.shapeMismatch(operation: op, lhs: a.shape, rhs: b.shape)
        }
        let batch = max(batchA, batchB)
        let (rowsA, colsA) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (rowsB, colsB) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (colsA, rowsA) : (rowsA, colsA)
        let (kB, n) = transposeB ? (colsB, rowsB) : (rowsB, colsB)
        guard k == kB else { throw TensorError.shapeMismatch(operation: op, lhs: a.shape, rhs: b.shape) }
        let batched = a.rank == 3 || b.rank == 3
        let shape = batched ? [batch, m, n] : [m, n]
        if beta == 0 {
            out.prepareOutput(shape: shape)
        } else {
            try requireF32(out, op)
            guard out.shape == shape else {
                throw TensorError.invalidArgument(operation: op, reason: "accumulating into shape \(out.shape), result is \(shape)")
            }
        }
        a.withUnsafeFloats { pa in
            b.withUnsafeFloats { pb in
                out.withUnsafeMutableFloats { pc in
                    guard let pa = pa.baseAddress, let pb = pb.baseAddress, let pc = pc.baseAddress else { return }
                    if a.rank == 3, b.rank == 2, !transposeA {
                        // The batch folds into the rows of one larger product.
                        gemm(transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k, alpha: alpha,
                             a: pa, lda: max(1, colsA), b: pb, ldb: max(1, colsB), beta: beta, c: pc, ldc: n)
                        return
                    }
                    gemmStridedBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                       a: pa, lda: max(1, colsA), strideA: a.rank == 3 ? rowsA * colsA : 0,
                                       b: pb, ldb: max(1, colsB), strideB: b.rank == 3 ? rowsB * colsB : 0,
                                       beta: beta, c: pc, ldc: n, strideC: m * n, batchCount: batch)
                }
            }
        }
    }
}
