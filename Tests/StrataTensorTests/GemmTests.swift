import Testing
import StrataTensor

@Suite(.serialized) struct GemmTests {
    @Test func everyTransposeCombinationGivesTheSameProduct() throws {
        let a = try Fixture.load("gemm_a"), at = try Fixture.load("gemm_at")
        let b = try Fixture.load("gemm_b"), bt = try Fixture.load("gemm_bt")
        let c = try Fixture.load("gemm_c")
        expectMatches(try Kernels.matmul(a, b), c, "NN")
        expectMatches(try Kernels.matmul(at, b, transposeA: true), c, "TN")
        expectMatches(try Kernels.matmul(a, bt, transposeB: true), c, "NT")
        expectMatches(try Kernels.matmul(at, bt, transposeA: true, transposeB: true), c, "TT")
    }

    @Test func alphaAndBetaAccumulate() throws {
        let a = try Fixture.load("gemm_a"), b = try Fixture.load("gemm_b")
        var c = try Fixture.load("gemm_c0")
        try Kernels.matmul(a, b, alpha: 0.5, beta: -1.5, into: &c)
        expectMatches(c, try Fixture.load("gemm_alpha_beta"), "alpha/beta")
    }

    @Test func leadingDimensionsSkipPaddingColumns() throws {
        // A (7x5) and B (5x9) embedded in wider rows whose extra columns hold NaN; C written into a
        // wider buffer whose extra columns must stay untouched.
        let a = try Fixture.load("gemm_a").floats, b = try Fixture.load("gemm_b").floats
        let (m, n, k, lda, ldb, ldc) = (7, 9, 5, 8, 12, 11)
        var wideA = [Float](repeating: .nan, count: m * lda)
        var wideB = [Float](repeating: .nan, count: k * ldb)
        for i in 0..<m { for j in 0..<k { wideA[i * lda + j] = a[i * k + j] } }
        for i in 0..<k { for j in 0..<n { wideB[i * ldb + j] = b[i * n + j] } }
        var wideC = [Float](repeating: 42, count: m * ldc)
        wideA.withUnsafeBufferPointer { pa in
            wideB.withUnsafeBufferPointer { pb in
                wideC.withUnsafeMutableBufferPointer { pc in
                    Kernels.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k,
                                 a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                 c: pc.baseAddress!, ldc: ldc)
                }
            }
        }
        var product = [Float]()
        for i in 0..<m { product += wideC[(i * ldc)..<(i * ldc + n)] }
        expectMatches(try Tensor(shape: [m, n], floats: product), try Fixture.load("gemm_c"), "strided C")
        for i in 0..<m { for j in n..<ldc { #expect(wideC[i * ldc + j] == 42) } }
    }

    @Test func batchedProducts() throws {
        let a = try Fixture.load("bmm_a"), b = try Fixture.load("bmm_b")
        expectMatches(try Kernels.matmul(a, b), try Fixture.load("bmm_c"), "batched")
        expectMatches(try Kernels.matmul(a, try Fixture.load("bmm_bt"), transposeB: true), try Fixture.load("bmm_c"), "batched NT")
        expectMatches(try Kernels.matmul(try Fixture.load("bmm_at"), b, transposeA: true), try Fixture.load("bmm_c"), "batched TN")
        expectMatches(try Kernels.matmul(a, try Fixture.load("bmm_shared_b")), try Fixture.load("bmm_shared_c"), "shared B")
        let firstA = try Tensor(shape: [4, 6], floats: Array(a.floats[0..<24]))
        expectMatches(try Kernels.matmul(firstA, b), try Fixture.load("bmm_shared_a_c"), "shared A")
    }

    @Test func stridedBatchedMatchesTheBatchedTensorForm() throws {
        let a = try Fixture.load("bmm_a").floats, b = try Fixture.load("bmm_bt").floats
        var c = [Float](repeating: 0, count: 3 * 4 * 5)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Kernels.gemmStridedBatched(transposeA: false, transposeB: true, m: 4, n: 5, k: 6,
                                               a: pa.baseAddress!, lda: 6, strideA: 24,
                                               b: pb.baseAddress!, ldb: 6, strideB: 30,
                                               c: pc.baseAddress!, ldc: 5, strideC: 20, batchCount: 3)
                }
            }
        }
        expectMatches(try Tensor(shape: [3, 4, 5], floats: c), try Fixture.load("bmm_c"), "strided batched")
    }

    @Test func mismatchedInnerDimensionsThrow() throws {
        let a = try Fixture.load("gemm_a")
        #expect(throws: TensorError.self) { try Kernels.matmul(a, a) }
        #expect(throws: TensorError.self) { try Kernels.matmul(try Fixture.load("bmm_a"), try Fixture.load("bmm_bt")) }
    }

    @Test func linearUsesTheOutByInWeightLayout() throws {
        let x = try Fixture.load("linear_x"), w = try Fixture.load("linear_w"), b = try Fixture.load("linear_b")
        expectMatches(try Kernels.linear(x, weight: w, bias: b), try Fixture.load("linear_y"), "linear")
        expectMatches(try Kernels.linear(x, weight: w), try Fixture.load("linear_y_nobias"), "linear without bias")
        var out = Tensor(zeros: [1])
        try Kernels.linear(x, weight: w, bias: b, activation: .gelu, into: &out)
        expectMatches(out, try Fixture.load("linear_y_gelu"), "linear + gelu")
        #expect(throws: TensorError.self) { try Kernels.linear(x, weight: try Fixture.load("gemm_a")) }
    }

    @Test func concurrentCallersGetCorrectProducts() async throws {
        // Encoder workers call BLAS from several threads at once, one BLAS thread each.
        let before = Kernels.blasThreads
        Kernels.setBLASThreads(1)
        defer { Kernels.setBLASThreads(before) }
        let x = try Fixture.load("linear_x"), w = try Fixture.load("linear_w"), b = try Fixture.load("linear_b")
        let reference = try Fixture.load("linear_y")
        let results = try await withThrowingTaskGroup(of: Tensor.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var out = Tensor(zeros: [0])
                    for _ in 0..<200 { try Kernels.linear(x, weight: w, bias: b, into: &out) }
                    return out
                }
            }
            return try await group.reduce(into: [Tensor]()) { $0.append($1) }
        }
        for result in results { expectMatches(result, reference, "concurrent linear") }
    }

    @Test func blasThreadCountCanBeSet() {
        let before = Kernels.blasThreads
        Kernels.setBLASThreads(1)
        #expect(Kernels.blasThreads == 1)
        Kernels.setBLASThreads(before)
        #expect(Kernels.blasThreads == before)
    }
}
