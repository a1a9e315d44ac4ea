import StrataTensor

extension Tape {
    /// Multi-head scaled dot-product attention over already-projected `query` (`[B, Lq, E]`), `key` and
    /// `value` (`[B, Lk, E]`): per head `h` (features `h·D ..< (h+1)·D`),
    /// `dropout(softmax(Q·Kᵀ/√D + maskBias)) · V`, heads merged back in order — the core of
    /// `nn.MultiheadAttention`. `keyMask` marks padded keys (`.ignore` is PyTorch's `key_padding_mask`);
    /// a query with every key masked gets zeros. `dropout` applies to the attention weights while training.
    public func attention(query: Variable, key: Variable, value: Variable, heads: Int, keyMask: KeyMask? = nil,
                          dropout: Float = 0) throws -> Variable {
        let (sq, sk, sv) = (shape(of: query), shape(of: key), shape(of: value))
        guard sq.count == 3, sk.count == 3, sk == sv, sq[0] == sk[0], sq[2] == sk[2] else {
            throw AutodiffError.shapeMismatch(operation: "attention", shapes: [sq, sk, sv])
        }
        let (batch, queryLength, width, keyLength) = (sq[0], sq[1], sq[2], sk[1])
        guard heads >= 1, width % heads == 0 else {
            throw AutodiffError.invalidArgument(operation: "attention", reason: "width \(width) does not split into \(heads) heads")
        }
        guard dropout >= 0, dropout < 1 else {
            throw AutodiffError.invalidArgument(operation: "attention", reason: "dropout \(dropout) outside [0, 1)")
        }
        let keyBias = try Tape.keyBias(keyMask, batch: batch, keyLength: keyLength)
        let headDim = width / heads
        let scale = 1 / Float(headDim).squareRoot()
        let useDropout = isTraining && dropout > 0
        let block = queryLength * keyLength
        let probabilityCount = batch * heads * block
        let (id, out) = output(shape: [batch, queryLength, width])
        let saved = savedPointer(id, count: probabilityCount * (useDropout ? 2 : 1))
        let masks = saved + probabilityCount
        if useDropout { Tape.fillDropoutMask(masks, count: probabilityCount, p: dropout, generator: &generator) }
        let (pq, pk, pv) = (valuePointer(query.id), valuePointer(key.id), valuePointer(value.id))
        let scratch = workspace.floats(block)
        keyBias.withUnsafeBufferPointer { bias in
            let bias = bias.isEmpty ? nil : bias.baseAddress
            for b in 0..<batch {
                for h in 0..<heads {
                    let task = (b * heads + h) * block
                    Kernels.attentionHead(q: pq + b * queryLength * width + h * headDim, ldq: width,
                                          k: pk + b * keyLength * width + h * headDim, ldk: width,
                                          v: pv + b * keyLength * width + h * headDim, ldv: width,
                                          queryLength: queryLength, keys: keyLength, headDim: headDim, scale: scale,
                                          keyBias: bias.map { $0 + b * keyLength }, scores: saved + task,
                                          dropoutMask: useDropout ? masks + task : nil, dropped: scratch,
                                          out: out + b * queryLength * width + h * headDim, ldo: width)
                }
            }
        }
        return record(id, inputs: [query, key, value]) { tape in
            let gOut = tape.gradPointer(id)
            let (pq, pk, pv) = (tape.valuePointer(query.id), tape.valuePointer(key.id), tape.valuePointer(value.id))
            let gq = tape.needsGrad(query) ? tape.gradPointer(query.id) : nil
            let gk = tape.needsGrad(key) ? tape.gradPointer(key.id) : nil
            let gv = tape.needsGrad(value) ? tape.gradPointer(value.id) : nil
            let saved = tape.savedBuffer(id)
            let buffer = tape.workspace.floats(2 * block)
            let (dropped, dp) = (buffer, buffer + block)
            for b in 0..<batch {
                for h in 0..<heads {
                    let probabilities = saved + (b * heads + h) * block
                    let mask = saved + probabilityCount + (b * heads + h) * block
                    let go = gOut + b * queryLength * width + h * headDim
                    let (qOffset, kOffset) = (b * queryLength * width + h * headDim, b * keyLength * width + h * headDim)
                    var weights = UnsafePointer(probabilities)
                    if useDropout {
                        for i in 0..<block { dropped[i] = probabilities[i] * mask[i] }
                        weights = UnsafePointer(dropped)
                    }
                    if let gv {  // dV += Wᵀ · dO
                        Kernels.gemm(transposeA: true, transposeB: false, m: keyLength, n: headDim, k: queryLength,
                                     a: weights, lda: keyLength, b: go, ldb: width, beta: 1, c: gv + kOffset, ldc: width)
                    }
                    guard gq != nil || gk != nil else { continue }
                    // dW = dO · Vᵀ, then through dropout and softmax to the scores.
                    Kernels.gemm(transposeA: false, transposeB: true, m: queryLength, n: keyLength, k: headDim,
                                 a: go, lda: width, b: pv + kOffset, ldb: width, beta: 0, c: dp, ldc: keyLength)
                    if useDropout { for i in 0..<block { dp[i] *= mask[i] } }
                    for i in 0..<queryLength {
                        let (pr, dr) = (probabilities + i * keyLength, dp + i * keyLength)
                        var dot: Float = 0
                        for j in 0..<keyLength { dot += pr[j] * dr[j] }
                        for j in 0..<keyLength { dr[j] = pr[j] * (dr[j] - dot) }
                    }
                    if let gq {  // dQ += scale · dS · K
                        Kernels.gemm(transposeA: false, transposeB: false, m: queryLength, n: headDim, k: keyLength,
                                     alpha: scale, a: dp, lda: keyLength, b: pk + kOffset, ldb: width,
                                     beta: 1, c: gq + qOffset, ldc: width)
                    }
                    if let gk {  // dK += scale · dSᵀ · Q
                        Kernels.gemm(transposeA: true, transposeB: false, m: keyLength, n: headDim, k: queryLength,
                                     alpha: scale, a: dp, lda: keyLength, b: pq + qOffset, ldb: width,
                                     beta: 1, c: gk + kOffset, ldc: width)
                    }
                }
            }
        }
    }

    /// Per batch entry and key, the additive score bias (0, or -inf for a key attention may not look at);
    /// empty when nothing is masked.
    static func keyBias(_ mask: KeyMask?, batch: Int, keyLength: Int) throws -> [Float] {
        guard let mask else { return [] }
        let tensor: Tensor
        switch mask {
        case let .attend(t), let .ignore(t): tensor = t
        }
        guard tensor.shape == [batch, keyLength], tensor.dtype == .i32 || tensor.dtype == .f32 else {
            throw AutodiffError.shapeMismatch(operation: "attention key mask", shapes: [[batch, keyLength], tensor.shape])
        }
        return Kernels.keyBias(mask, batch: batch, keyLength: keyLength).bias ?? []
    }
}
