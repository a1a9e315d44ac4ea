import Foundation
import StrataTensor

/// Multi-head self-attention over a packed `[rows, 3H]` Q|K|V buffer, reading each head in place
/// through strided gemms (no per-head copies).
enum Attention {
    /// `out[b, i, head] = softmax(Q·Kᵀ/√d + keyBias) · V` for every sequence and head.
    ///
    /// Keys at or past `keyLengths[b]` are skipped (they are masked); `keyBias` (0 or -inf per key) masks
    /// the ones before. Every query row is computed, padded ones included, as Hugging Face does.
    static func selfAttention(packed: UnsafeMutablePointer<Float>, batch: Int, length: Int, heads: Int, headDim: Int,
                              keyBias: UnsafePointer<Float>?, keyLengths: [Int], out: UnsafeMutablePointer<Float>,
                              scratch: TransformerScratch) {
        let hidden = heads * headDim
        let stride = 3 * hidden
        let scale = 1 / Float(headDim).squareRoot()
        let scores = scratch.scores.floats(length * length)
        for b in 0..<batch {
            let used = keyLengths[b]
            let base = packed + b * length * stride
            let outBatch = out + b * length * hidden
            if used == 0 {
                outBatch.update(repeating: 0, count: length * hidden)
                continue
            }
            let bias = keyBias.map { $0 + b * length }
            let masked = bias.map { pointer in (0..<used).contains { pointer[$0] != 0 } } ?? false
            for h in 0..<heads {
                let q = base + h * headDim
                let k = base + hidden + h * headDim
                let v = base + 2 * hidden + h * headDim
                Kernels.gemm(transposeA: false, transposeB: true, m: length, n: used, k: headDim, alpha: scale,
                             a: q, lda: stride, b: k, ldb: stride, beta: 0, c: scores, ldc: used)
                if masked, let bias {
                    for i in 0..<length {
                        let row = scores + i * used
                        for j in 0..<used { row[j] += bias[j] }
                    }
                }
                Kernels.softmaxRows(scores, rows: length, columns: used)
                Kernels.gemm(transposeA: false, transposeB: false, m: length, n: headDim, k: used,
                             a: scores, lda: used, b: v, ldb: stride, beta: 0, c: outBatch + h * headDim, ldc: hidden)
            }
        }
    }
}
