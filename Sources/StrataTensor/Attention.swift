/// Which keys of each sequence attention may look at, as a `[batch, keyLength]` tensor (`i32` or `f32`;
/// `.npy` booleans load as `i32` 0/1).
public enum KeyMask: Sendable {
    /// Nonzero marks a real key to attend to, zero a padded key (Hugging Face's `attention_mask`).
    case attend(Tensor)
    /// Nonzero marks a padded key to ignore (PyTorch's `key_padding_mask`).
    case ignore(Tensor)

    var tensor: Tensor {
        switch self {
        case let .attend(t), let .ignore(t): return t
        }
    }

    var nonzeroMeansAttend: Bool {
        if case .attend = self { return true }
        return false
    }
}

extension Kernels {
    /// Floats of `Workspace` that attention needs for these lengths.
    public static func attentionWorkspaceCount(queryLength: Int, keyLength: Int) -> Int {
        queryLength * keyLength + keyLength
    }

    /// Multi-head scaled dot-product attention.
    ///
    /// `query` is `[B, Lq, H·D]`, `key` and `value` are `[B, Lk, H·D]`; head `h` uses features
    /// `h·D ..< (h+1)·D` (PyTorch's and Hugging Face's head split). Per batch entry and head,
    /// `softmax(Q·Kᵀ · scale + maskBias) · V` with `scale` defaulting to `1/√D` and `maskBias` = -inf at
    /// masked keys. Returns `[B, Lq, H·D]` with the heads merged back in the same order.
    ///
    /// A query whose keys are all masked attends to nothing: its output row is all zeros (as PyTorch's
    /// `scaled_dot_product_attention`, never NaN). Hugging Face's BERT adds `finfo.min` instead of -inf
    /// and would average all values in that case; with at least one attended key (BERT always attends
    /// to `[CLS]`) both agree, since masked keys get exactly zero weight either way.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, keyMask: KeyMask? = nil,
                                 scale: Float? = nil) throws -> Tensor {
        var out = Tensor(zeros: [])
        try attention(query: query, key: key, value: value, heads: heads, keyMask: keyMask, scale: scale,
                      into: &out, workspace: Workspace())
        return out
    }

    /// Multi-head attention into `out` (`[B, Lq, H·D]`, resized as needed), scores kept in `workspace`.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, keyMask: KeyMask? = nil,
                                 scale: Float? = nil, into out: inout Tensor, workspace: Workspace) throws {
        let op = "attention"
        try requireF32(query, rank: 3, op)
        try requireF32(key, rank: 3, op)
        try requireF32(value, rank: 3, op)
        guard key.shape == value.shape, query.shape[0] == key.shape[0], query.shape[2] == key.shape[2] else {
            throw TensorError.shapeMismatch(operation: op, lhs: query.shape, rhs: key.shape == value.shape ? key.shape : value.shape)
        }
        let (batch, queryLength, hidden, keyLength) = (query.shape[0], query.shape[1], query.shape[2], key.shape[1])
        let headDim = try checkHeads(hidden: hidden, heads: heads, op)
        try checkMask(keyMask, batch: batch, keyLength: keyLength, op)
        out.prepareOutput(shape: [batch, queryLength, hidden])
        query.withUnsafeFloats { pq in
            key.withUnsafeFloats { pk in
                value.withUnsafeFloats { pv in
                    out.withUnsafeMutableFloats { po in
                        guard let q = pq.baseAddress, let k = pk.baseAddress, let v = pv.baseAddress,
                              let o = po.baseAddress else { return }
                        attentionRaw(q: q, k: k, v: v, rowStride: (hidden, hidden, hidden),
                                     batchStride: (queryLength * hidden, keyLength * hidden, keyLength * hidden),
                                     batch: batch, heads: heads, headDim: headDim,
                                     queryLength: queryLength, keyLength: keyLength, keyMask: keyMask,
                                     scale: scale ?? 1 / Float(headDim).squareRoot(), out: o, workspace: workspace)
                    }
                }
            }
        }
    }

    /// Multi-head self-attention over a packed `[B, L, 3·H·D]` tensor whose last dimension holds Q, K and V
    /// side by side (the output of one projection with the three weights stacked); writes `[B, L, H·D]`
    /// to `out`. Otherwise as `attention(query:key:value:heads:keyMask:scale:)`.
    public static func attention(packedQKV: Tensor, heads: Int, keyMask: KeyMask? = nil, scale: Float? = nil,
                                 into out: inout Tensor, workspace: Workspace) throws {
        let op = "attention"
        try requireF32(packedQKV, rank: 3, op)
        let (batch, length, packed) = (packedQKV.shape[0], packedQKV.shape[1], packedQKV.shape[2])
        guard packed % 3 == 0 else {
            throw TensorError.invalidArgument(operation: op, reason: "packed QKV width \(packed) is not a multiple of 3")
        }
        let hidden = packed / 3
        let headDim = try checkHeads(hidden: hidden, heads: heads, op)
        try checkMask(keyMask, batch: batch, keyLength: length, op)
        out.prepareOutput(shape: [batch, length, hidden])
        packedQKV.withUnsafeFloats { pp in
            out.withUnsafeMutableFloats { po in
                guard let p = pp.baseAddress, let o = po.baseAddress else { return }
                attentionRaw(q: p, k: p + hidden, v: p + 2 * hidden, rowStride: (packed, packed, packed),
                             batchStride: (length * packed, length * packed, length * packed),
                             batch: batch, heads: heads, headDim: headDim, queryLength: length, keyLength: length,
                             keyMask: keyMask, scale: scale ?? 1 / Float(headDim).squareRoot(), out: o,
                             workspace: workspace)
            }
        }
    }

    private static func checkHeads(hidden: Int, heads: Int, _ op: String) throws -> Int {
        guard heads >= 1, hidden % heads == 0 else {
            throw TensorError.invalidArgument(operation: op, reason: "hidden size \(hidden) does not split into \(heads) heads")
        }
        return hidden / heads
    }

    private static func checkMask(_ mask: KeyMask?, batch: Int, keyLength: Int, _ op: String) throws {
        guard let tensor = mask?.tensor else { return }
        guard tensor.dtype == .i32 || tensor.dtype == .f32 else {
            throw TensorError.dtypeMismatch(operation: op, expected: .i32, actual: tensor.dtype)
        }
        guard tensor.shape == [batch, keyLength] else {
            throw TensorError.invalidArgument(operation: op,
                reason: "key mask must be [batch, keyLength] = \([batch, keyLength]), got \(tensor.shape)")
        }
    }

    /// Whether key `index` of the mask's storage may be attended to.
    private static func attends(_ mask: KeyMask, _ raw: UnsafeRawPointer, _ index: Int) -> Bool {
        let nonzero = mask.tensor.dtype == .i32
            ? raw.load(fromByteOffset: index * 4, as: Int32.self) != 0
            : raw.load(fromByteOffset: index * 4, as: Float.self) != 0
        return nonzero == mask.nonzeroMeansAttend
    }

    /// The attention loop over batch entries and heads; strides are in floats, ordered (q, k, v).
    static func attentionRaw(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                             rowStride: (Int, Int, Int), batchStride: (Int, Int, Int),
                             batch: Int, heads: Int, headDim: Int, queryLength: Int, keyLength: Int,
                             keyMask: KeyMask?, scale: Float, out: UnsafeMutablePointer<Float>,
                             workspace: Workspace) {
        let hidden = heads * headDim
        let buffer = workspace.floats(attentionWorkspaceCount(queryLength: queryLength, keyLength: keyLength))
        let scores = buffer
        let maskBias = buffer + queryLength * keyLength
        for b in 0..<batch {
            // Keys past the last attended one carry zero weight, so the products stop there.
            var used = keyLength
            var masked = false
            if let keyMask {
                keyMask.tensor.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    used = 0
                    for j in 0..<keyLength {
                        let keep = attends(keyMask, base, b * keyLength + j)
                        maskBias[j] = keep ? 0 : -.infinity
                        if keep { used = j + 1 } else { masked = true }
                    }
                }
            }
            let outBatch = out + b * queryLength * hidden
            if used == 0 {
                for i in 0..<queryLength { (outBatch + i * hidden).update(repeating: 0, count: hidden) }
                continue
            }
            for h in 0..<heads {
                let qh = q + b * batchStride.0 + h * headDim
                let kh = k + b * batchStride.1 + h * headDim
                let vh = v + b * batchStride.2 + h * headDim
                gemm(transposeA: false, transposeB: true, m: queryLength, n: used, k: headDim, alpha: scale,
                     a: qh, lda: rowStride.0, b: kh, ldb: rowStride.1, beta: 0, c: scores, ldc: used)
                if masked {
                    for i in 0..<queryLength {
                        let row = scores + i * used
                        for j in 0..<used { row[j] += maskBias[j] }
                    }
                }
                softmaxRows(scores, rows: queryLength, columns: used)
                gemm(transposeA: false, transposeB: false, m: queryLength, n: headDim, k: used,
                     a: scores, lda: used, b: vh, ldb: rowStride.2, beta: 0, c: outBatch + h * headDim, ldc: hidden)
            }
        }
    }
}
