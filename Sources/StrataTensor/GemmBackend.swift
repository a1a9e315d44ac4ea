import CStrataKernels
import Dispatch
import Foundation

/// Which single-precision gemm runs the products of every kernel.
///
/// On a CPU with AVX-512, Strata's own packed kernels (`CStrataKernels`) run them: the OpenBLAS build Debian ships
/// may pick AVX2 kernels on such CPUs, at half their FMA width. Elsewhere, and when the environment variable
/// `STRATA_GEMM=openblas` is set, OpenBLAS's `cblas_sgemm` does.
public enum GemmBackend: String, Sendable, CaseIterable {
    /// Strata's AVX-512 kernels (OpenBLAS where the CPU lacks AVX-512F).
    case strata
    /// OpenBLAS's `cblas_sgemm`.
    case openBLAS = "openblas"

    /// Whether this CPU runs Strata's AVX-512 kernels.
    public static let avx512Available: Bool = strata_sgemm_avx512_available() != 0

    /// The backend every kernel uses: `strata` when the CPU has AVX-512F, unless `STRATA_GEMM=openblas`.
    public static let `default`: GemmBackend = {
        let requested = ProcessInfo.processInfo.environment["STRATA_GEMM"].flatMap(GemmBackend.init(rawValue:))
        return avx512Available ? (requested ?? .strata) : .openBLAS
    }()

    /// Whether Strata's AVX-512 kernels run the products (`default` is `.openBLAS` on a CPU without AVX-512F).
    public static var usesStrataKernels: Bool { self.default == .strata }

    /// The name a cache manifest records for the default backend: `strata-avx512` or `openblas`.
    public static var recordedName: String { usesStrataKernels ? "strata-avx512" : "openblas" }

    /// What runs the products, for logs and benchmark headers.
    public static var description: String {
        switch self.default {
        case .strata: return "Strata AVX-512 sgemm"
        case .openBLAS: return "OpenBLAS sgemm"
        }
    }
}

/// Drives the AVX-512 kernels, sharing large products among threads.
enum StrataGemm {
    /// Products below this many multiply-adds run on the calling thread alone (a hand-off costs about as
    /// much as a product of this size).
    static let parallelThreshold = 1 << 23
    /// Row blocks are cut at multiples of the kernel's tile height, column blocks at its width.
    static let tileRows = 12, tileColumns = 32

    /// Runs the product; false when the kernels could not run (their packing buffers could not be allocated).
    ///
    /// Threads take contiguous blocks of C's rows (or of its columns, when C is wider than tall or A comes
    /// packed; rows when B comes packed); each
    /// element is summed in the same order either way, so the result does not depend on `threads`.
    static func run(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, packedA: PackedMatrix? = nil,
                    b: UnsafePointer<Float>, ldb: Int, packedB: PackedMatrix? = nil,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) -> Bool {
        func block(rows: Range<Int>, columns: Range<Int>) -> Bool {
            let aStart = transposeA ? rows.lowerBound : rows.lowerBound * lda
            let bStart = transposeB ? columns.lowerBound * ldb : columns.lowerBound
            return strata_sgemm_avx512_packed(transposeA ? 1 : 0, a + aStart, lda, packedA?.storage, m, rows.lowerBound,
                                              transposeB ? 1 : 0, b + bStart, ldb, packedB?.storage, n, columns.lowerBound,
                                              rows.count, columns.count, k, alpha, beta,
                                              c + rows.lowerBound * ldc + columns.lowerBound, ldc) == 0
        }
        // A packed operand is shared by every block, so split along the other one's side: each thread
        // then packs only its own part of the plain operand.
        let splitRows = packedB != nil ? true : packedA != nil ? false : m >= n
        let tile = splitRows ? tileRows : tileColumns
        let tiles = ((splitRows ? m : n) + tile - 1) / tile
        let parts = m * n * k < parallelThreshold ? 1 : min(max(1, threads), tiles)
        if parts <= 1 { return block(rows: 0..<m, columns: 0..<n) }
        var succeeded = [Bool](repeating: false, count: parts)
        succeeded.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let end = splitRows ? m : n
                let lower = min(tiles * part / parts * tile, end)
                let upper = min(tiles * (part + 1) / parts * tile, end)
                slots[part] = splitRows ? block(rows: lower..<upper, columns: 0..<n)
                                        : block(rows: 0..<m, columns: lower..<upper)
            }
        }
        return !succeeded.contains(false)
    }
}

extension Kernels {
    /// Runs `body` with every gemm it calls on this thread kept on this thread (Strata's kernels do not
    /// share them among the BLAS threads meanwhile); other threads are not affected.
    ///
    /// For callers that spread independent products over threads themselves. OpenBLAS's own thread count
    /// is process-wide and is not changed.
    public static func onCallingThreadOnly<T>(_ body: () throws -> T) rethrows -> T {
        let saved = strata_gemm_caller_only()
        strata_gemm_set_caller_only(1)
        defer { strata_gemm_set_caller_only(saved) }
        return try body()
    }

    /// The threads a gemm called on this thread may use: 1 inside `onCallingThreadOnly`, else `blasThreads`.
    public static var gemmThreads: Int { strata_gemm_caller_only() != 0 ? 1 : blasThreads }
}

extension StrataGemm {
    /// Runs `count` independent products on the BLAS threads, each product on one thread; false (nothing
    /// run) when Strata's kernels are not in use, one thread is set, or the caller is already one of them.
    static func shareProducts(count: Int, run product: (Int) -> Void) -> Bool {
        guard GemmBackend.usesStrataKernels else { return false }
        let threads = Kernels.gemmThreads
        guard threads > 1 else { return false }
        let workers = min(threads, count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            Kernels.onCallingThreadOnly {
                for index in stride(from: worker, to: count, by: workers) { product(index) }
            }
        }
        return true
    }
}
