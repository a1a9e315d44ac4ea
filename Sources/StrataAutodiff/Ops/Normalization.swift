import Foundation
import StrataTensor

extension Tape {
    /// Softmax over the last dimension (max-subtracted, so it never overflows).
    public func softmax(_ x: Variable) throws -> Variable {
        let (shape, rows, columns) = try lastAxis(x, "softmax")
        let (id, y) = output(shape: shape)
        y.update(from: valuePointer(x.id), count: rows * columns)
        Kernels.softmaxRows(y, rows: rows, columns: columns)
        return record(id, inputs: [x]) { tape in
            let (p, g, gx) = (tape.valuePointer(id), tape.gradPointer(id), tape.gradPointer(x.id))
            for r in 0..<rows {
                let (pr, gr, gxr) = (p + r * columns, g + r * columns, gx + r * columns)
                var dot: Float = 0
                for j in 0..<columns { dot += gr[j] * pr[j] }
                for j in 0..<columns { gxr[j] += pr[j] * (gr[j] - dot) }
            }
        }
    }

    /// `log(softmax(x))` over the last dimension, computed as `x - max - log Σ exp(x - max)`.
    public func logSoftmax(_ x: Variable) throws -> Variable {
        let (shape, rows, columns) = try lastAxis(x, "logSoftmax")
        let (id, y) = output(shape: shape)
        Tape.logSoftmaxRows(valuePointer(x.id), rows: rows, columns: columns, out: y)
        return record(id, inputs: [x]) { tape in
            let (ly, g, gx) = (tape.valuePointer(id), tape.gradPointer(id), tape.gradPointer(x.id))
            for r in 0..<rows {
                let (lr, gr, gxr) = (ly + r * columns, g + r * columns, gx + r * columns)
                var total: Float = 0
                for j in 0..<columns { total += gr[j] }
                for j in 0..<columns { gxr[j] += gr[j] - expf(lr[j]) * total }
            }
        }
    }

    /// Stable log-softmax of `rows` rows of `columns` floats.
    static func logSoftmaxRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let (src, dst) = (x + r * columns, out + r * columns)
            var top = -Float.infinity
            for j in 0..<columns { top = max(top, src[j]) }
            var sum: Float = 0
            for j in 0..<columns { sum += expf(src[j] - top) }
            let shift = top + logf(sum)
            for j in 0..<columns { dst[j] = src[j] - shift }
        }
    }

    /// Layer normalisation over the last dimension, as `nn.LayerNorm` (biased variance, `eps` inside the root).
    public func layerNorm(_ x: Variable, weight: Variable?, bias: Variable?, eps: Float = 1e-5) throws -> Variable {
        let (shape, rows, columns) = try lastAxis(x, "layerNorm")
        for parameter in [weight, bias].compactMap({ $0 }) where self.shape(of: parameter) != [columns] {
            throw AutodiffError.shapeMismatch(operation: "layerNorm", shapes: [shape, self.shape(of: parameter)])
        }
        let (id, y) = output(shape: shape)
        let stats = savedPointer(id, count: 2 * rows)  // mean, 1/σ per row
        let px = valuePointer(x.id)
        let pw = weight.map { valuePointer($0.id) }
        let pb = bias.map { valuePointer($0.id) }
        let n = Float(columns)
        Kernels.layerNormRows(px, rows: rows, columns: columns, weight: pw, bias: pb, eps: eps, out: y, statistics: stats)
        let inputs = [x] + [weight, bias].compactMap { $0 }
        return record(id, inputs: inputs) { tape in
            let (g, stats, px) = (tape.gradPointer(id), tape.savedBuffer(id), tape.valuePointer(x.id))
            let pw = weight.map { tape.valuePointer($0.id) }
            let gw = weight.flatMap { tape.needsGrad($0) ? tape.gradPointer($0.id) : nil }
            let gb = bias.flatMap { tape.needsGrad($0) ? tape.gradPointer($0.id) : nil }
            let gx = tape.needsGrad(x) ? tape.gradPointer(x.id) : nil
            for r in 0..<rows {
                let (src, gr) = (px + r * columns, g + r * columns)
                let (mean, inv) = (stats[2 * r], stats[2 * r + 1])
                var sumG: Float = 0
                var sumGX: Float = 0
                for j in 0..<columns {
                    let xhat = (src[j] - mean) * inv
                    let gj = pw.map { gr[j] * $0[j] } ?? gr[j]
                    sumG += gj
                    sumGX += gj * xhat
                    gw?[j] += gr[j] * xhat
                    gb?[j] += gr[j]
                }
                guard let gx else { continue }
                let (meanG, meanGX) = (sumG / n, sumGX / n)
                let gxr = gx + r * columns
                for j in 0..<columns {
                    let xhat = (src[j] - mean) * inv
                    let gj = pw.map { gr[j] * $0[j] } ?? gr[j]
                    gxr[j] += inv * (gj - meanG - xhat * meanGX)
                }
            }
        }
    }

    /// `x / max(‖x‖₂, eps)` over the last dimension, as `F.normalize(x, dim=-1)`.
    public func l2Normalize(_ x: Variable, eps: Float = 1e-12) throws -> Variable {
        let (shape, rows, columns) = try lastAxis(x, "l2Normalize")
        let (id, y) = output(shape: shape)
        let norms = savedPointer(id, count: rows)
        let px = valuePointer(x.id)
        for r in 0..<rows {
            let (src, dst) = (px + r * columns, y + r * columns)
            var squares: Float = 0
            for j in 0..<columns { squares += src[j] * src[j] }
            let norm = squares.squareRoot()
            norms[r] = norm
            let inv = 1 / max(norm, eps)
            for j in 0..<columns { dst[j] = src[j] * inv }
        }
        return record(id, inputs: [x]) { tape in
            let (g, y, gx, norms) = (tape.gradPointer(id), tape.valuePointer(id), tape.gradPointer(x.id), tape.savedBuffer(id))
            for r in 0..<rows {
                let (gr, yr, gxr) = (g + r * columns, y + r * columns, gx + r * columns)
                let norm = norms[r]
                if norm <= eps {  // the denominator is the constant eps
                    for j in 0..<columns { gxr[j] += gr[j] / eps }
                    continue
                }
                var dot: Float = 0
                for j in 0..<columns { dot += gr[j] * yr[j] }
                let inv = 1 / norm
                for j in 0..<columns { gxr[j] += (gr[j] - yr[j] * dot) * inv }
            }
        }
    }

    /// The shape of `x` with its row count and last-dimension length, for row-wise operations.
    func lastAxis(_ x: Variable, _ operation: String) throws -> ([Int], Int, Int) {
        let shape = self.shape(of: x)
        guard let columns = shape.last, columns > 0 else {
            throw AutodiffError.invalidArgument(operation: operation, reason: "needs a non-empty last dimension, got \(shape)")
        }
        return (shape, Tensor.elementCount(shape) / columns, columns)
    }
}
