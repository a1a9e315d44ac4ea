import StrataTensor

extension Tape {
    /// `op(a) · op(b)` for 2-D or batched 3-D operands, as `Kernels.matmul` (a 2-D operand is shared by
    /// every batch entry of the other; its gradient sums over the batch).
    public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) throws -> Variable {
        let (shapeA, shapeB) = (shape(of: a), shape(of: b))
        let id = reserve()
        do {
            try Kernels.matmul(value(of: a), value(of: b), transposeA: transposeA, transposeB: transposeB,
                               beta: 0, into: &values[id])
        } catch {
            throw AutodiffError.shapeMismatch(operation: "matmul", shapes: [shapeA, shapeB])
        }
        let batch = max(shapeA.count == 3 ? shapeA[0] : 1, shapeB.count == 3 ? shapeB[0] : 1)
        let (rowsA, colsA) = (shapeA[shapeA.count - 2], shapeA[shapeA.count - 1])
        let (rowsB, colsB) = (shapeB[shapeB.count - 2], shapeB[shapeB.count - 1])
        let (m, k) = transposeA ? (colsA, rowsA) : (rowsA, colsA)
        let n = transposeB ? rowsB : colsB
        let strideA = shapeA.count == 3 ? rowsA * colsA : 0
        let strideB = shapeB.count == 3 ? rowsB * colsB : 0
        return record(id, inputs: [a, b]) { tape in
            let gc = tape.gradPointer(id)
            let (pa, pb) = (tape.valuePointer(a.id), tape.valuePointer(b.id))
            if tape.needsGrad(a) {
                let ga = tape.gradPointer(a.id)
                for i in 0..<batch {
                    let (gci, pbi, gai) = (gc + i * m * n, pb + i * strideB, ga + i * strideA)
                    if transposeA {  // dA (k×m) = op(B) · dCᵀ
                        Kernels.gemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n, a: pbi, lda: colsB,
                                     b: gci, ldb: n, beta: 1, c: gai, ldc: colsA)
                    } else {  // dA (m×k) = dC · op(B)ᵀ
                        Kernels.gemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n, a: gci, lda: n,
                                     b: pbi, ldb: colsB, beta: 1, c: gai, ldc: colsA)
                    }
                }
            }
            if tape.needsGrad(b) {
                let gb = tape.gradPointer(b.id)
                for i in 0..<batch {
                    let (gci, pai, gbi) = (gc + i * m * n, pa + i * strideA, gb + i * strideB)
                    if transposeB {  // dB (n×k) = dCᵀ · op(A)
                        Kernels.gemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m, a: gci, lda: n,
                                     b: pai, ldb: colsA, beta: 1, c: gbi, ldc: colsB)
                    } else {  // dB (k×n) = op(A)ᵀ · dC
                        Kernels.gemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m, a: pai, lda: colsA,
                                     b: gci, ldb: n, beta: 1, c: gbi, ldc: colsB)
                    }
                }
            }
        }
    }

    /// `x · Wᵀ + b` over the last dimension with PyTorch's `nn.Linear` layout (`weight` `[out, in]`).
    ///
    /// `rows` selects a block of the weight's rows (and the bias's entries) — how
    /// `nn.MultiheadAttention` slices `in_proj_weight` into its query, key and value projections.
    public func linear(_ x: Variable, weight: Variable, bias: Variable?, rows: Range<Int>? = nil) throws -> Variable {
        let (shapeX, shapeW) = (shape(of: x), shape(of: weight))
        guard shapeW.count == 2, let inFeatures = shapeX.last, inFeatures == shapeW[1] else {
            throw AutodiffError.shapeMismatch(operation: "linear", shapes: [shapeX, shapeW])
        }
        let block = rows ?? 0..<shapeW[0]
        guard block.lowerBound >= 0, block.upperBound <= shapeW[0] else {
            throw AutodiffError.invalidArgument(operation: "linear", reason: "rows \(block) outside weight \(shapeW)")
        }
        if let bias {
            let shapeB = shape(of: bias)
            guard shapeB == [shapeW[0]] else {
                throw AutodiffError.shapeMismatch(operation: "linear", shapes: [shapeW, shapeB])
            }
        }
        let outFeatures = block.count
        let count = Tensor.elementCount(shapeX) / max(inFeatures, 1)
        let (id, out) = output(shape: Array(shapeX.dropLast()) + [outFeatures])
        let offset = block.lowerBound
        Kernels.linearRaw(valuePointer(x.id), rows: count, inFeatures: inFeatures,
                          weight: valuePointer(weight.id) + offset * inFeatures,
                          bias: bias.map { valuePointer($0.id) + offset }, outFeatures: outFeatures, out: out)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record(id, inputs: inputs) { tape in
            let gy = tape.gradPointer(id)
            if tape.needsGrad(x) {  // dX = dY · W
                Kernels.gemm(transposeA: false, transposeB: false, m: count, n: inFeatures, k: outFeatures,
                             a: gy, lda: outFeatures, b: tape.valuePointer(weight.id) + offset * inFeatures,
                             ldb: inFeatures, beta: 1, c: tape.gradPointer(x.id), ldc: inFeatures)
            }
            if tape.needsGrad(weight) {  // dW = dYᵀ · X
                Kernels.gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: count,
                             a: gy, lda: outFeatures, b: tape.valuePointer(x.id), ldb: inFeatures,
                             beta: 1, c: tape.gradPointer(weight.id) + offset * inFeatures, ldc: inFeatures)
            }
            if let bias, tape.needsGrad(bias) {
                let gb = tape.gradPointer(bias.id) + offset
                for r in 0..<count {
                    let row = gy + r * outFeatures
                    for j in 0..<outFeatures { gb[j] += row[j] }
                }
            }
        }
    }
}
