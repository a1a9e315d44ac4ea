import StrataTensor

/// NumPy/PyTorch broadcasting of two shapes, with each operand's element strides over the result.
struct Broadcast {
    /// The result shape (at least rank 1).
    let shape: [Int]
    /// Strides of the left and right operands over `shape` (0 along broadcast dimensions).
    let stridesA: [Int]
    let stridesB: [Int]

    init?(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count, 1)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var shape = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            guard pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1 else { return nil }
            shape[d] = pa[d] == 1 ? pb[d] : pa[d]
        }
        self.shape = shape
        stridesA = Broadcast.strides(pa, over: shape)
        stridesB = Broadcast.strides(pb, over: shape)
    }

    private static func strides(_ padded: [Int], over shape: [Int]) -> [Int] {
        var result = [Int](repeating: 0, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            result[d] = padded[d] == 1 && shape[d] != 1 ? 0 : running
            running *= padded[d]
        }
        return result
    }

    /// Calls `body(outOffset, aOffset, bOffset, innerCount, aInnerStride, bInnerStride)` for each run of
    /// the innermost dimension.
    func forEachRow(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let rank = shape.count
        let inner = shape[rank - 1]
        let (sa, sb) = (stridesA[rank - 1], stridesB[rank - 1])
        let rows = Tensor.elementCount(shape) / max(inner, 1)
        if inner == 0 { return }
        var index = [Int](repeating: 0, count: rank)
        var offA = 0
        var offB = 0
        for row in 0..<rows {
            body(row * inner, offA, offB, inner, sa, sb)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                offA += stridesA[d]
                offB += stridesB[d]
                if index[d] < shape[d] { break }
                offA -= stridesA[d] * shape[d]
                offB -= stridesB[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// The element-wise binary operations with broadcasting.
enum BinaryOperation: String {
    case add, subtract, multiply, divide
}

extension Tape {
    /// `a + b` with broadcasting.
    public func add(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.add, a, b) }
    /// `a - b` with broadcasting.
    public func subtract(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.subtract, a, b) }
    /// `a · b` element-wise with broadcasting.
    public func multiply(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.multiply, a, b) }
    /// `a / b` element-wise with broadcasting.
    public func divide(_ a: Variable, _ b: Variable) throws -> Variable { try binary(.divide, a, b) }

    func binary(_ operation: BinaryOperation, _ a: Variable, _ b: Variable) throws -> Variable {
        let (shapeA, shapeB) = (shape(of: a), shape(of: b))
        guard let plan = Broadcast(shapeA, shapeB) else {
            throw AutodiffError.shapeMismatch(operation: operation.rawValue, shapes: [shapeA, shapeB])
        }
        let outShape = shapeA.count == 0 && shapeB.count == 0 ? [] : plan.shape
        let (id, out) = output(shape: outShape)
        let pa = valuePointer(a.id)
        let pb = valuePointer(b.id)
        plan.forEachRow { o, oa, ob, n, sa, sb in
            let (x, y, z) = (pa + oa, pb + ob, out + o)
            switch operation {
            case .add: for j in 0..<n { z[j] = x[j * sa] + y[j * sb] }
            case .subtract: for j in 0..<n { z[j] = x[j * sa] - y[j * sb] }
            case .multiply: for j in 0..<n { z[j] = x[j * sa] * y[j * sb] }
            case .divide: for j in 0..<n { z[j] = x[j * sa] / y[j * sb] }
            }
        }
        return record(id, inputs: [a, b]) { tape in
            let g = tape.gradPointer(id)
            let (xa, xb) = (tape.valuePointer(a.id), tape.valuePointer(b.id))
            if tape.needsGrad(a) {
                let ga = tape.gradPointer(a.id)
                plan.forEachRow { o, oa, ob, n, sa, sb in
                    let (gz, gx, y) = (g + o, ga + oa, xb + ob)
                    switch operation {
                    case .add, .subtract: for j in 0..<n { gx[j * sa] += gz[j] }
                    case .multiply: for j in 0..<n { gx[j * sa] += gz[j] * y[j * sb] }
                    case .divide: for j in 0..<n { gx[j * sa] += gz[j] / y[j * sb] }
                    }
                }
            }
            if tape.needsGrad(b) {
                let gb = tape.gradPointer(b.id)
                plan.forEachRow { o, oa, ob, n, sa, sb in
                    let (gz, gy, x, y) = (g + o, gb + ob, xa + oa, xb + ob)
                    switch operation {
                    case .add: for j in 0..<n { gy[j * sb] += gz[j] }
                    case .subtract: for j in 0..<n { gy[j * sb] -= gz[j] }
                    case .multiply: for j in 0..<n { gy[j * sb] += gz[j] * x[j * sa] }
                    case .divide:
                        for j in 0..<n {
                            let d = y[j * sb]
                            gy[j * sb] -= gz[j] * x[j * sa] / (d * d)
                        }
                    }
                }
            }
        }
    }
}
