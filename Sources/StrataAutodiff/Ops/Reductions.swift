import StrataTensor

extension Tape {
    /// The sum of all elements, as a scalar (shape `[]`).
    public func sum(_ x: Variable) -> Variable {
        reduceAll(x, scale: 1)
    }

    /// The mean of all elements, as a scalar (shape `[]`).
    public func mean(_ x: Variable) -> Variable {
        reduceAll(x, scale: 1 / Float(max(1, Tensor.elementCount(shape(of: x)))))
    }

    /// The sum over `axis` (negative counts from the end), keeping it as size 1 when `keepDims`.
    public func sum(_ x: Variable, axis: Int, keepDims: Bool = false) throws -> Variable {
        try reduce(x, axis: axis, keepDims: keepDims, mean: false)
    }

    /// The mean over `axis` (negative counts from the end), keeping it as size 1 when `keepDims`.
    public func mean(_ x: Variable, axis: Int, keepDims: Bool = false) throws -> Variable {
        try reduce(x, axis: axis, keepDims: keepDims, mean: true)
    }

    /// The mean of `x` (`[B, L, D]`) over the positions whose `mask` (`[B, L]`, `i32` or `f32`) is nonzero:
    /// `Σ x·m / max(Σ m, 1e-9)`, the sentence-embedding mean pooling. A row with no kept position gives zeros.
    public func maskedMean(_ x: Variable, mask: Tensor) throws -> Variable {
        let shape = self.shape(of: x)
        guard shape.count == 3, mask.shape == [shape[0], shape[1]], mask.dtype == .i32 || mask.dtype == .f32 else {
            throw AutodiffError.shapeMismatch(operation: "maskedMean", shapes: [shape, mask.shape])
        }
        let (batch, length, width) = (shape[0], shape[1], shape[2])
        let weights = mask.dtype == .i32 ? mask.int32s.map { Float($0) } : mask.floats
        let (id, out) = output(shape: [batch, width])
        let kept = savedPointer(id, count: batch * length)  // m / max(Σ m, 1e-9)
        for b in 0..<batch {
            var total: Float = 0
            for l in 0..<length { total += weights[b * length + l] }
            let inv = 1 / max(total, 1e-9)
            for l in 0..<length { kept[b * length + l] = weights[b * length + l] * inv }
        }
        let px = valuePointer(x.id)
        for b in 0..<batch {
            let row = out + b * width
            row.update(repeating: 0, count: width)
            for l in 0..<length {
                let w = kept[b * length + l]
                if w == 0 { continue }
                let src = px + (b * length + l) * width
                for j in 0..<width { row[j] += w * src[j] }
            }
        }
        return record(id, inputs: [x]) { tape in
            let (g, gx, kept) = (tape.gradPointer(id), tape.gradPointer(x.id), tape.savedBuffer(id))
            for b in 0..<batch {
                for l in 0..<length {
                    let w = kept[b * length + l]
                    if w == 0 { continue }
                    let (dst, src) = (gx + (b * length + l) * width, g + b * width)
                    for j in 0..<width { dst[j] += w * src[j] }
                }
            }
        }
    }

    private func reduceAll(_ x: Variable, scale: Float) -> Variable {
        let n = Tensor.elementCount(shape(of: x))
        let (id, out) = output(shape: [])
        let px = valuePointer(x.id)
        var total: Double = 0
        for i in 0..<n { total += Double(px[i]) }
        out[0] = Float(total) * scale
        return record(id, inputs: [x]) { tape in
            let (g, gx) = (tape.gradPointer(id)[0] * scale, tape.gradPointer(x.id))
            for i in 0..<n { gx[i] += g }
        }
    }

    private func reduce(_ x: Variable, axis: Int, keepDims: Bool, mean: Bool) throws -> Variable {
        let shape = self.shape(of: x)
        let axis = axis < 0 ? axis + shape.count : axis
        guard (0..<shape.count).contains(axis) else {
            throw AutodiffError.invalidArgument(operation: mean ? "mean" : "sum", reason: "axis \(axis) for shape \(shape)")
        }
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let length = shape[axis]
        let scale: Float = mean ? 1 / Float(max(1, length)) : 1
        var outShape = shape
        if keepDims { outShape[axis] = 1 } else { outShape.remove(at: axis) }
        let (id, out) = output(shape: outShape)
        let px = valuePointer(x.id)
        for o in 0..<outer {
            let dst = out + o * inner
            dst.update(repeating: 0, count: inner)
            for l in 0..<length {
                let src = px + (o * length + l) * inner
                for j in 0..<inner { dst[j] += src[j] }
            }
            if mean { for j in 0..<inner { dst[j] *= scale } }
        }
        return record(id, inputs: [x]) { tape in
            let (g, gx) = (tape.gradPointer(id), tape.gradPointer(x.id))
            for o in 0..<outer {
                let src = g + o * inner
                for l in 0..<length {
                    let dst = gx + (o * length + l) * inner
                    for j in 0..<inner { dst[j] += src[j] * scale }
                }
            }
        }
    }
}
