import StrataAutodiff
import StrataTensor

/// The forward pass of `Tape.textToImageScores` without a graph, for evaluation: per image, one gemm
/// of all text queries against its keys per head, a row softmax, one gemm with its values, and the
/// token-weighted cosines, so memory stays `O(texts·tokens·(keys + width))` instead of a tiled
/// `[images, texts·tokens, width]` tensor per operation.
enum TextToImageInference {
    /// Scores `[Bi, Bt]` of text `[Bt, L, D]` (with `textMask` `[Bt, L]`), queries `[Bt, L, D]`, keys and
    /// values `[Bi, N, D]` (with `imageMask` `[Bi, N]`, nonzero where a key may be attended).
    static func scores(text: Tensor, textMask: Tensor?, query: Tensor, key: Tensor, value: Tensor,
                       imageMask: Tensor?, heads: Int) throws -> Tensor {
        let (textCount, length, width) = (text.shape[0], text.shape[1], text.shape[2])
        let (imageCount, keyCount) = (key.shape[0], key.shape[1])
        guard width % heads == 0, query.shape == text.shape, value.shape == key.shape, key.shape[2] == width else {
            throw TrainError.shapeMismatch(operation: "textToImageScores", shapes: [text.shape, query.shape, key.shape, value.shape])
        }
        let headDim = width / heads
        let rows = textCount * length
        let scale = 1 / Float(headDim).squareRoot()
        let maskValues = textMask?.floats
        var weights = [Float](repeating: 0, count: rows)
        for t in 0..<textCount {
            let real = maskValues.map { m in (0..<length).filter { m[t * length + $0] != 0 }.count } ?? length
            for l in 0..<length where maskValues.map({ $0[t * length + l] != 0 }) ?? true {
                weights[t * length + l] = 1 / Float(max(real, 1))
            }
        }
        // Unit-norm text tokens (eps 1e-8, as F.normalize).
        var unitText = text.converted(to: .f32).floats
        for r in 0..<rows {
            var squares: Float = 0
            for j in 0..<width { squares += unitText[r * width + j] * unitText[r * width + j] }
            let inv = 1 / max(squares.squareRoot(), 1e-8)
            for j in 0..<width { unitText[r * width + j] *= inv }
        }
        let attend = imageMask?.floats
        let (q, k, v) = (query.converted(to: .f32).floats, key.converted(to: .f32).floats, value.converted(to: .f32).floats)
        var result = [Float](repeating: 0, count: imageCount * textCount)
        var logits = [Float](repeating: 0, count: rows * keyCount)
        var gathered = [Float](repeating: 0, count: rows * width)
        for i in 0..<imageCount {
            let anyKey = attend.map { a in (0..<keyCount).contains { a[i * keyCount + $0] != 0 } } ?? true
            guard anyKey else { continue }  // nothing to attend: gathered vectors are zero, cosines 0
            q.withUnsafeBufferPointer { pq in
                k.withUnsafeBufferPointer { pk in
                    v.withUnsafeBufferPointer { pv in
                        logits.withUnsafeMutableBufferPointer { pl in
                            gathered.withUnsafeMutableBufferPointer { pg in
                                guard let pq = pq.baseAddress, let pk = pk.baseAddress, let pv = pv.baseAddress,
                                      let pl = pl.baseAddress, let pg = pg.baseAddress else { return }
                                for h in 0..<heads {
                                    Kernels.gemm(transposeA: false, transposeB: true, m: rows, n: keyCount, k: headDim, alpha: scale,
                                                 a: pq + h * headDim, lda: width, b: pk + i * keyCount * width + h * headDim, ldb: width,
                                                 beta: 0, c: pl, ldc: keyCount)
                                    if let attend {
                                        for r in 0..<rows {
                                            for j in 0..<keyCount where attend[i * keyCount + j] == 0 { pl[r * keyCount + j] = -.infinity }
                                        }
                                    }
                                    Kernels.softmaxRows(pl, rows: rows, columns: keyCount)
                                    Kernels.gemm(transposeA: false, transposeB: false, m: rows, n: headDim, k: keyCount,
                                                 a: pl, lda: keyCount, b: pv + i * keyCount * width + h * headDim, ldb: width,
                                                 beta: 0, c: pg + h * headDim, ldc: width)
                                }
                            }
                        }
                    }
                }
            }
            for t in 0..<textCount {
                var score: Float = 0
                for l in 0..<length {
                    let r = t * length + l
                    let w = weights[r]
                    if w == 0 { continue }
                    var (dot, squares): (Float, Float) = (0, 0)
                    for j in 0..<width {
                        let g = gathered[r * width + j]
                        dot += g * unitText[r * width + j]
                        squares += g * g
                    }
                    score += w * dot / max(squares.squareRoot(), 1e-8)
                }
                result[i * textCount + t] = score
            }
        }
        return try Tensor(shape: [imageCount, textCount], floats: result)
    }
}
