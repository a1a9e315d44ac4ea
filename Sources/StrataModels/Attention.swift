import Foundation
import StrataTensor

/// Multi-head self-attention over a packed `[rows, 3H]` Q|K|V buffer, reading each head in place
/// through strided gemms (no per-head copies).
enum Attention {
    /// `out[b, i, head] = softmax(Q·Kᵀ/√d + keyBias) · V` for every sequence and head.
    ///
    /// Keys at or past `keyLengths[b]` are skipped (they are masked); `keyBias` (0 or -inf per key) masks
    /// the ones before. Every query row is computed, padded ones included, as Hugging Face does.
    ///
    /// The (sequence, head) products are small, so when several BLAS threads are set they are spread over
    /// that many workers, each running single-threaded gemms (`SingleThreadedBLAS.concurrentPerform`).
    static func selfAttention(packed: UnsafeMutablePointer<Float>, batch: Int, length: Int, heads: Int, headDim: Int,
                              keyBias: UnsafePointer<Float>?, keyLengths: [Int], out: UnsafeMutablePointer<Float>,
                              scratch: TransformerScratch) {
        let hidden = heads * headDim
        let tasks = batch * heads
        let threads = SingleThreadedBLAS.configuredThreads
        let workers = threads > 1 && tasks > 1 ? min(threads, tasks) : 1
        let area = length * length
        let scores = scratch.scores.floats(max(1, workers * area))
        let run = { (task: Int, scores: UnsafeMutablePointer<Float>) in
            head(packed: packed, b: task / heads, h: task % heads, length: length, hidden: hidden, headDim: headDim,
                 keyBias: keyBias, used: keyLengths[task / heads], out: out, scores: scores)
        }
        if workers == 1 {
            for task in 0..<tasks { run(task, scores) }
            return
        }
        SingleThreadedBLAS.concurrentPerform(workers: workers) { worker in
            for task in stride(from: worker, to: tasks, by: workers) { run(task, scores + worker * area) }
        }
    }

    /// One sequence `b` and head `h`: scores, mask, softmax, weighted values into `out`.
    private static func head(packed: UnsafeMutablePointer<Float>, b: Int, h: Int, length: Int, hidden: Int,
                             headDim: Int, keyBias: UnsafePointer<Float>?, used: Int, out: UnsafeMutablePointer<Float>,
                             scores: UnsafeMutablePointer<Float>) {
        let stride = 3 * hidden
        let base = packed + b * length * stride
        let output = out + b * length * hidden + h * headDim
        if used == 0 {
            for i in 0..<length { (output + i * hidden).update(repeating: 0, count: headDim) }
            return
        }
        let scale = 1 / Float(headDim).squareRoot()
        Kernels.gemm(transposeA: false, transposeB: true, m: length, n: used, k: headDim, alpha: scale,
                     a: base + h * headDim, lda: stride, b: base + hidden + h * headDim, ldb: stride,
                     beta: 0, c: scores, ldc: used)
        if let keyBias {
            let bias = keyBias + b * length
            if (0..<used).contains(where: { bias[$0] != 0 }) {
                for i in 0..<length {
                    let row = scores + i * used
                    for j in 0..<used { row[j] += bias[j] }
                }
            }
        }
        Kernels.softmaxRows(scores, rows: length, columns: used)
        Kernels.gemm(transposeA: false, transposeB: false, m: length, n: headDim, k: used,
                     a: scores, lda: used, b: base + 2 * hidden + h * headDim, ldb: stride,
                     beta: 0, c: output, ldc: hidden)
    }
}

/// Runs workers whose gemms must each stay on the worker's thread.
///
/// With Strata's kernels, each worker marks its own thread (`Kernels.onCallingThreadOnly`) and nothing
/// process-wide changes. With OpenBLAS, whose thread count is process-wide, it is set to one thread for the
/// region and restored when the last region that overlaps in time ends (encoders on different threads may
/// enter at once); the encoder must then be the only BLAS caller, as in one-encoder runs.
enum SingleThreadedBLAS {
    private nonisolated(unsafe) static var active = 0
    private nonisolated(unsafe) static var saved = 1
    private static let lock = NSLock()

    /// Whether each worker can be kept single-threaded on its own.
    private static var perThread: Bool { GemmBackend.usesStrataKernels }

    /// The threads a gemm called here may use, as set outside any region.
    static var configuredThreads: Int {
        if perThread { return Kernels.gemmThreads }
        lock.lock()
        defer { lock.unlock() }
        return active > 0 ? saved : Kernels.blasThreads
    }

    /// Runs `body(worker)` for `workers` workers at once, each with single-threaded gemms.
    static func concurrentPerform(workers: Int, _ body: (Int) -> Void) {
        if perThread {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                Kernels.onCallingThreadOnly { body(worker) }
            }
            return
        }
        lock.lock()
        if active == 0 {
            saved = Kernels.blasThreads
            Kernels.setBLASThreads(1)
        }
        active += 1
        lock.unlock()
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        lock.lock()
        active -= 1
        if active == 0 { Kernels.setBLASThreads(saved) }
        lock.unlock()
    }
}
