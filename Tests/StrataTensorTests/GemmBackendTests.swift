import Foundation
import Testing
@testable import StrataTensor

/// Both gemm backends against a double-precision product, over shapes that cross every blocking edge of the
/// AVX-512 kernels (12-row and 32-column tiles, 256-deep and 512-wide blocks).
@Suite struct GemmBackendTests {
    struct Case: CustomStringConvertible {
        let m, n, k: Int
        let transposeA, transposeB: Bool
        var description: String { "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")" }
    }

    /// The backends this CPU runs (`.strata` falls back to OpenBLAS without AVX-512F, so it is left out then).
    static let backends: [GemmBackend] = GemmBackend.avx512Available ? GemmBackend.allCases : [.openBLAS]

    static let cases: [Case] = {
        let shapes = [(1, 1, 1), (5, 7, 3), (12, 32, 256), (13, 33, 257), (25, 70, 300), (40, 600, 17),
                      (3, 1030, 520), (100, 31, 64)]
        return shapes.flatMap { s in
            [(false, false), (true, false), (false, true), (true, true)].map {
                Case(m: s.0, n: s.1, k: s.2, transposeA: $0.0, transposeB: $0.1)
            }
        }
    }()

    /// Random values in [-1, 1) from a fixed seed.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }

    /// `alpha · op(A)·op(B) + beta · C` in doubles; `A` and `B` have padded rows (`lda`, `ldb`), `C` is dense.
    static func reference(_ c: Case, alpha: Double, a: [Float], lda: Int, b: [Float], ldb: Int,
                          beta: Double, initial: [Float]) -> [Double] {
        (0..<(c.m * c.n)).map { index in
            let (i, j) = (index / c.n, index % c.n)
            var sum = 0.0
            for p in 0..<c.k {
                let x = c.transposeA ? a[p * lda + i] : a[i * lda + p]
                let y = c.transposeB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(x) * Double(y)
            }
            return alpha * sum + (beta == 0 ? 0 : beta * Double(initial[index]))
        }
    }

    @Test(arguments: GemmBackendTests.backends)
    func everyShapeAndTransposeMatchesADoubleProduct(backend: GemmBackend) {
        for (number, c) in Self.cases.enumerated() {
            let lda = (c.transposeA ? c.m : c.k) + 3, ldb = (c.transposeB ? c.k : c.n) + 5
            let a = Self.values((c.transposeA ? c.k : c.m) * lda, seed: UInt64(2 * number + 1))
            let b = Self.values((c.transposeB ? c.n : c.k) * ldb, seed: UInt64(2 * number + 2))
            let initial = Self.values(c.m * c.n, seed: UInt64(1000 + number))
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, -1.5)] {
                var out = beta == 0 ? [Float](repeating: .nan, count: c.m * c.n) : initial
                out.withUnsafeMutableBufferPointer { pc in
                    Kernels.gemm(transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k,
                                 alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                                 c: pc.baseAddress!, ldc: c.n, backend: backend)
                }
                let expected = Self.reference(c, alpha: Double(alpha), a: a, lda: lda, b: b, ldb: ldb,
                                              beta: Double(beta), initial: initial)
                let worst = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst <= 1e-6 * Double(c.k + 4), "\(backend) \(c) alpha \(alpha) beta \(beta): max|diff| \(worst)")
            }
        }
    }

    @Test(arguments: GemmBackendTests.backends)
    func emptyInnerDimensionScalesC(backend: GemmBackend) {
        var out: [Float] = [1, 2, 3, 4, 5, 6]
        let none: [Float] = [0]
        out.withUnsafeMutableBufferPointer { pc in
            Kernels.gemm(transposeA: false, transposeB: false, m: 2, n: 3, k: 0, a: none, lda: 1, b: none, ldb: 3,
                         beta: 2, c: pc.baseAddress!, ldc: 3, backend: backend)
        }
        #expect(out == [2, 4, 6, 8, 10, 12])
    }

    @Test(.enabled(if: GemmBackend.avx512Available, "the AVX-512 kernels need a CPU with AVX-512F"))
    func threadCountDoesNotChangeABit() {
        // Tall and wide products, so both row and column splits run, at sizes past the parallel threshold.
        for (m, n, k) in [(301, 97, 600), (45, 1500, 300)] {
            let a = Self.values(m * k, seed: 7), b = Self.values(k * n, seed: 8)
            let products = [1, 2, 3, 8].map { threads -> [Float] in
                var out = [Float](repeating: 0, count: m * n)
                out.withUnsafeMutableBufferPointer { pc in
                    let ran = StrataGemm.run(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a,
                                             lda: k, b: b, ldb: k, beta: 0, c: pc.baseAddress!, ldc: n, threads: threads)
                    #expect(ran)
                }
                return out
            }
            for product in products.dropFirst() {
                let same = product == products[0]
                #expect(same, "\(m)x\(n)x\(k)")
            }
        }
    }

    @Test(.enabled(if: GemmBackend.usesStrataKernels, "products are shared among threads by Strata's kernels"))
    func batchedProductsSharedAmongThreadsEqualOneByOne() {
        let (m, n, k, count) = (37, 45, 70, 5)
        let a = Self.values(count * m * k, seed: 21), b = Self.values(count * k * n, seed: 22)
        var shared = [Float](repeating: 0, count: count * m * n), single = shared
        let saved = Kernels.blasThreads
        Kernels.setBLASThreads(2)
        defer { Kernels.setBLASThreads(saved) }
        shared.withUnsafeMutableBufferPointer { pc in
            Kernels.gemmStridedBatched(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k,
                                       strideA: m * k, b: b, ldb: n, strideB: k * n, c: pc.baseAddress!, ldc: n,
                                       strideC: m * n, batchCount: count)
        }
        Kernels.onCallingThreadOnly {
            #expect(Kernels.gemmThreads == 1)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    single.withUnsafeMutableBufferPointer { pc in
                        for index in 0..<count {
                            Kernels.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k,
                                         a: pa.baseAddress! + index * m * k, lda: k, b: pb.baseAddress! + index * k * n,
                                         ldb: n, c: pc.baseAddress! + index * m * n, ldc: n)
                        }
                    }
                }
            }
        }
        let same = shared == single
        #expect(same)
    }

    @Test(.enabled(if: GemmBackend.usesStrataKernels, "packing is for Strata's AVX-512 kernels"))
    func packedOperandsGiveTheSameBitsAsPlainOnes() throws {
        // Sizes past one depth block and one column block, with ragged tile edges, on 1 and 3 threads; the
        // last two are past the size at which threads share a product (by rows and by columns).
        let large = [Case(m: 150, n: 130, k: 600, transposeA: false, transposeB: true),
                     Case(m: 40, n: 1100, k: 300, transposeA: true, transposeB: false)]
        for (number, c) in (Self.cases.filter { $0.m * $0.n * $0.k > 1000 } + large).enumerated() {
            let lda = c.transposeA ? c.m : c.k, ldb = c.transposeB ? c.k : c.n
            let a = Self.values((c.transposeA ? c.k : c.m) * lda, seed: UInt64(number + 50))
            let b = Self.values((c.transposeB ? c.n : c.k) * ldb, seed: UInt64(number + 90))
            let packedA = try #require(PackedMatrix(side: .left, transposed: c.transposeA, rows: c.m, columns: c.k,
                                                    data: a, leadingDimension: lda))
            let packedB = try #require(PackedMatrix(side: .right, transposed: c.transposeB, rows: c.k, columns: c.n,
                                                    data: b, leadingDimension: ldb))
            func product(_ pa: PackedMatrix?, _ pb: PackedMatrix?, threads: Int) -> [Float] {
                var out = [Float](repeating: 0, count: c.m * c.n)
                out.withUnsafeMutableBufferPointer { pc in
                    let ran = StrataGemm.run(transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k,
                                             alpha: 0.75, a: a, lda: lda, packedA: pa, b: b, ldb: ldb, packedB: pb,
                                             beta: 0, c: pc.baseAddress!, ldc: c.n, threads: threads)
                    #expect(ran)
                }
                return out
            }
            let plain = product(nil, nil, threads: 1)
            for threads in [1, 3] {
                // Compared as Booleans, so a failure names the case instead of printing every element.
                let packedLeft = product(packedA, nil, threads: threads) == plain
                let packedRight = product(nil, packedB, threads: threads) == plain
                let packedBoth = product(packedA, packedB, threads: threads) == plain
                #expect(packedLeft, "\(c) packed A, \(threads) threads")
                #expect(packedRight, "\(c) packed B, \(threads) threads")
                #expect(packedBoth, "\(c) both packed, \(threads) threads")
            }
        }
    }

    @Test(.enabled(if: GemmBackend.usesStrataKernels, "packing is for Strata's AVX-512 kernels"))
    func convolutionRefusesAPackedWeightOfAnotherShape() throws {
        let weight = Tensor(zeros: [4, 3, 3, 3])
        let other = try #require(try PackedMatrix.pack(Tensor(zeros: [4, 9]), side: .left))
        var out = Tensor(zeros: [0])
        #expect(throws: TensorError.self) {
            try Kernels.conv2d(Tensor(zeros: [1, 3, 5, 5]), weight: weight, packedWeight: other, into: &out,
                               workspace: Workspace())
        }
        let packed = try #require(try PackedMatrix.pack(weight, side: .left))
        #expect(packed.rows == 4 && packed.columns == 27)
        try Kernels.conv2d(Tensor(zeros: [1, 3, 5, 5]), weight: weight, packedWeight: packed, into: &out,
                           workspace: Workspace())
        #expect(out.shape == [1, 4, 3, 3])
    }

    @Test func threadsThatComeAndGoGetCorrectProducts() {
        // Each thread's packing buffers are freed when it exits; new threads make their own.
        let (m, n, k) = (30, 40, 300)
        let a = Self.values(m * k, seed: 31), b = Self.values(k * n, seed: 32)
        let product: @Sendable () -> [Float] = {
            var out = [Float](repeating: 0, count: m * n)
            out.withUnsafeMutableBufferPointer { pc in
                Kernels.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n,
                             c: pc.baseAddress!, ldc: n)
            }
            return out
        }
        let expected = product()
        let collected = Collected()
        for _ in 0..<4 {
            let done = DispatchSemaphore(value: 0)
            let threads = (0..<4).map { _ in
                Thread {
                    collected.add(product())
                    done.signal()
                }
            }
            threads.forEach { $0.start() }
            for _ in threads { done.wait() }
        }
        let results = collected.all
        let allSame = results.count == 16 && results.allSatisfy { $0 == expected }
        #expect(allSame)
    }
}

/// Products gathered from several threads.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [[Float]] = []

    func add(_ result: [Float]) {
        lock.lock()
        results.append(result)
        lock.unlock()
    }

    var all: [[Float]] {
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}
