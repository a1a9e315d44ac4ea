import StrataTensor

extension Tape {
    /// The same elements under `shape` (one dimension may be -1 and is inferred). Shares storage.
    public func reshape(_ x: Variable, _ shape: [Int]) throws -> Variable {
        let source = value(of: x)
        var target = shape
        if let hole = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
            guard known > 0, source.count % known == 0 else {
                throw AutodiffError.shapeMismatch(operation: "reshape", shapes: [source.shape, shape])
            }
            target[hole] = source.count / known
        }
        guard let view = try? source.reshaped(target) else {
            throw AutodiffError.shapeMismatch(operation: "reshape", shapes: [source.shape, shape])
        }
        let n = source.count
        let id = nodes.count
        return recordView(view, inputs: [x]) { tape in
            let (g, gx) = (tape.gradPointer(id), tape.gradPointer(x.id))
            for i in 0..<n { gx[i] += g[i] }
        }
    }

    /// Swaps two dimensions (copies the elements).
    public func transpose(_ x: Variable, _ first: Int, _ second: Int) throws -> Variable {
        let rank = shape(of: x).count
        guard (0..<rank).contains(first), (0..<rank).contains(second) else {
            throw AutodiffError.invalidArgument(operation: "transpose", reason: "axes \(first), \(second) for rank \(rank)")
        }
        var order = Array(0..<rank)
        order.swapAt(first, second)
        return try permute(x, order)
    }

    /// Reorders the dimensions: result dimension `i` is input dimension `order[i]` (copies the elements).
    public func permute(_ x: Variable, _ order: [Int]) throws -> Variable {
        let shape = self.shape(of: x)
        guard order.sorted() == Array(0..<shape.count) else {
            throw AutodiffError.invalidArgument(operation: "permute", reason: "\(order) is not a permutation of the \(shape.count) axes")
        }
        let outShape = order.map { shape[$0] }
        let inStrides = Tensor.strides(shape)
        let gatherStrides = order.map { inStrides[$0] }
        let (id, out) = output(shape: outShape)
        Tape.gather(valuePointer(x.id), out, shape: outShape, strides: gatherStrides)
        return record(id, inputs: [x]) { tape in
            // Walk the output in order, scattering its gradient back through the same strides.
            Tape.scatterAdd(tape.gradPointer(id), tape.gradPointer(x.id), shape: outShape, strides: gatherStrides)
        }
    }

    /// Joins tensors along `axis`; the other dimensions must agree.
    public func concat(_ parts: [Variable], axis: Int) throws -> Variable {
        guard !parts.isEmpty else {
            throw AutodiffError.invalidArgument(operation: "concat", reason: "nothing to concatenate")
        }
        let shapes = parts.map { shape(of: $0) }
        let rank = shapes[0].count
        let axis = axis < 0 ? axis + rank : axis
        guard (0..<rank).contains(axis), shapes.allSatisfy({ s in
            s.count == rank && (0..<rank).allSatisfy { $0 == axis || s[$0] == shapes[0][$0] }
        }) else {
            throw AutodiffError.shapeMismatch(operation: "concat", shapes: shapes)
        }
        var outShape = shapes[0]
        outShape[axis] = shapes.reduce(0) { $0 + $1[axis] }
        let outer = shapes[0][..<axis].reduce(1, *)
        let inner = shapes[0][(axis + 1)...].reduce(1, *)
        let widths = shapes.map { $0[axis] * inner }
        let total = widths.reduce(0, +)
        let (id, out) = output(shape: outShape)
        var offset = 0
        for (part, width) in zip(parts, widths) {
            let src = valuePointer(part.id)
            for o in 0..<outer { (out + o * total + offset).update(from: src + o * width, count: width) }
            offset += width
        }
        return record(id, inputs: parts) { tape in
            let g = tape.gradPointer(id)
            var offset = 0
            for (part, width) in zip(parts, widths) {
                if tape.needsGrad(part) {
                    let gp = tape.gradPointer(part.id)
                    for o in 0..<outer {
                        let (dst, src) = (gp + o * width, g + o * total + offset)
                        for j in 0..<width { dst[j] += src[j] }
                    }
                }
                offset += width
            }
        }
    }

    /// Entries `range` of dimension `axis` (copies the elements).
    public func slice(_ x: Variable, axis: Int, _ range: Range<Int>) throws -> Variable {
        let shape = self.shape(of: x)
        let axis = axis < 0 ? axis + shape.count : axis
        guard (0..<shape.count).contains(axis), range.lowerBound >= 0, range.upperBound <= shape[axis] else {
            throw AutodiffError.invalidArgument(operation: "slice", reason: "\(range) on axis \(axis) of \(shape)")
        }
        var outShape = shape
        outShape[axis] = range.count
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let (full, width, start) = (shape[axis] * inner, range.count * inner, range.lowerBound * inner)
        let (id, out) = output(shape: outShape)
        let src = valuePointer(x.id)
        for o in 0..<outer { (out + o * width).update(from: src + o * full + start, count: width) }
        return record(id, inputs: [x]) { tape in
            let (g, gx) = (tape.gradPointer(id), tape.gradPointer(x.id))
            for o in 0..<outer {
                let (dst, s) = (gx + o * full + start, g + o * width)
                for j in 0..<width { dst[j] += s[j] }
            }
        }
    }

    /// `out[i] = src[offset(i)]` walking `shape` in row-major order, `offset` given by `strides`.
    static func gather(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, shape: [Int], strides: [Int]) {
        walk(shape: shape, strides: strides) { i, offset in out[i] = src[offset] }
    }

    /// `dst[offset(i)] += src[i]`, the adjoint of `gather`.
    static func scatterAdd(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int], strides: [Int]) {
        walk(shape: shape, strides: strides) { i, offset in dst[offset] += src[i] }
    }

    private static func walk(shape: [Int], strides: [Int], _ body: (Int, Int) -> Void) {
        let count = Tensor.elementCount(shape)
        guard count > 0 else { return }
        guard !shape.isEmpty else { body(0, 0); return }
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        let last = shape.count - 1
        var i = 0
        while i < count {
            let step = strides[last]
            for j in 0..<shape[last] { body(i + j, offset + j * step) }
            i += shape[last]
            var d = last - 1
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < shape[d] { break }
                offset -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
