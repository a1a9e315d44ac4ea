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
    /// Floats of `Workspace` that attention needs for these lengths (one worker's scores; `stridedAttention`
    /// asks the workspace for one such block per worker it runs).
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
                        attention(q: q, k: k, v: v, rowStride: (hidden, hidden, hidden),
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
                attention(q: p, k: p + hidden, v: p + 2 * hidden, rowStride: (packed, packed, packed),
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

    /// Per batch entry, the additive bias of each key (0 to attend, -inf to skip) and one past the last
    /// key attended to; nil bias when the mask masks nothing.
    public static func keyBias(_ mask: KeyMask?, batch: Int, keyLength: Int) -> (bias: [Float]?, lengths: [Int]) {
        guard let mask else { return (nil, [Int](repeating: keyLength, count: batch)) }
        var bias = [Float](repeating: 0, count: batch * keyLength)
        var result: (lengths: [Int], masked: Bool) = ([], false)
        mask.tensor.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            let integers = mask.tensor.dtype == .i32
            bias.withUnsafeMutableBufferPointer { out in
                guard let out = out.baseAddress else { return }
                result = keyBias(batch: batch, keyLength: keyLength, into: out) { index in
                    let nonzero = integers ? base.load(fromByteOffset: index * 4, as: Int32.self) != 0
                                           : base.load(fromByteOffset: index * 4, as: Float.self) != 0
                    return nonzero == mask.nonzeroMeansAttend
                }
            }
        }
        return (result.masked ? bias : nil, result.lengths)
    }

    /// Writes the additive bias of key `index` (of `batch * keyLength`, entry-major) into `bias`: 0 where
    /// `attends(index)`, -inf elsewhere. Returns, per entry, one past the last key attended to, and
    /// whether any key was masked.
    public static func keyBias(batch: Int, keyLength: Int, into bias: UnsafeMutablePointer<Float>,
                               attends: (Int) -> Bool) -> (lengths: [Int], masked: Bool) {
        var lengths = [Int](repeating: 0, count: batch)
        var masked = false
        for index in 0..<(batch * keyLength) {
            if attends(index) {
                bias[index] = 0
                lengths[index / keyLength] = index % keyLength + 1
            } else {
                bias[index] = -.infinity
                masked = true
            }
        }
        return (lengths, masked)
    }

    /// `attention` over strided rows with a `KeyMask`, turned into per-key biases and lengths.
    private static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                  rowStride: (Int, Int, Int), batchStride: (Int, Int, Int),
                                  batch: Int, heads: Int, headDim: Int, queryLength: Int, keyLength: Int,
                                  keyMask: KeyMask?, scale: Float, out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let (bias, lengths) = keyBias(keyMask, batch: batch, keyLength: keyLength)
        func run(_ keyBias: UnsafePointer<Float>?) {
            stridedAttention(q: q, k: k, v: v, rowStride: rowStride, batchStride: batchStride, batch: batch, heads: heads,
                             headDim: headDim, queryLength: queryLength, keyLength: keyLength, keyBias: keyBias,
                             keyLengths: lengths, scale: scale, out: out, workspace: workspace)
        }
        if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
    }

    /// Multi-head scaled dot-product attention over rows read in place through strided gemms (no per-head
    /// copies): the loop every attention in Strata runs (encoders, these tensor forms).
    ///
    /// Head `h` of batch entry `b` reads query rows at `q + b·batchStride.0 + i·rowStride.0 + h·headDim`
    /// (keys and values likewise with `.1` and `.2`) and writes `[B, Lq, H·D]` to `out`. `keyBias` holds
    /// `batch · keyLength` additive mask values (0 or -inf) or is nil; keys at or past `keyLengths[b]` are
    /// skipped (they carry zero weight); an entry with no key gets zero rows. Every query row is computed.
    ///
    /// The (entry, head) products are small, so when several BLAS threads are set they are spread over
    /// that many workers, each running single-threaded gemms (`SingleThreadedBLAS.concurrentPerform`).
    public static func stridedAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        rowStride: (Int, Int, Int), batchStride: (Int, Int, Int),
                                        batch: Int, heads: Int, headDim: Int, queryLength: Int, keyLength: Int,
                                        keyBias: UnsafePointer<Float>?, keyLengths: [Int], scale: Float,
                                        out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let hidden = heads * headDim
        let tasks = batch * heads
        let threads = SingleThreadedBLAS.configuredThreads
        let workers = threads > 1 && tasks > 1 ? min(threads, tasks) : 1
        let area = queryLength * keyLength
        let scores = workspace.floats(max(1, workers * area))
        let run = { (task: Int, scores: UnsafeMutablePointer<Float>) in
            let (b, h) = (task / heads, task % heads)
            attentionHead(q: q + b * batchStride.0 + h * headDim, ldq: rowStride.0,
                          k: k + b * batchStride.1 + h * headDim, ldk: rowStride.1,
                          v: v + b * batchStride.2 + h * headDim, ldv: rowStride.2,
                          queryLength: queryLength, keys: keyLengths[b], headDim: headDim, scale: scale,
                          keyBias: keyBias.map { $0 + b * keyLength }, scores: scores,
                          out: out + b * queryLength * hidden + h * headDim, ldo: hidden)
        }
        if workers == 1 {
            for task in 0..<tasks { run(task, scores) }
            return
        }
        SingleThreadedBLAS.concurrentPerform(workers: workers) { worker in
            for task in stride(from: worker, to: tasks, by: workers) { run(task, scores + worker * area) }
        }
    }

    /// One entry and head of attention: `scores = softmax(Q·Kᵀ · scale + keyBias)` over the first `keys`
    /// keys (`queryLength × keys`, left in `scores` as the attention weights), then `out = weights · V`.
    ///
    /// With `dropoutMask` (`queryLength × keys` factors, 0 or 1/(1-p)), the weights multiplied by it go to
    /// `dropped` and are used for the values instead. With no keys, the output rows are zeros.
    public static func attentionHead(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
                                     v: UnsafePointer<Float>, ldv: Int, queryLength: Int, keys: Int, headDim: Int,
                                     scale: Float, keyBias: UnsafePointer<Float>?, scores: UnsafeMutablePointer<Float>,
                                     dropoutMask: UnsafePointer<Float>? = nil, dropped: UnsafeMutablePointer<Float>? = nil,
                                     out: UnsafeMutablePointer<Float>, ldo: Int) {
        if keys == 0 {
            for i in 0..<queryLength { (out + i * ldo).update(repeating: 0, count: headDim) }
            return
        }
        gemm(transposeA: false, transposeB: true, m: queryLength, n: keys, k: headDim, alpha: scale,
             a: q, lda: ldq, b: k, ldb: ldk, beta: 0, c: scores, ldc: keys)
        if let keyBias, (0..<keys).contains(where: { keyBias[$0] != 0 }) {
            for i in 0..<queryLength {
                let row = scores + i * keys
                for j in 0..<keys { row[j] += keyBias[j] }
            }
        }
        softmaxRows(scores, rows: queryLength, columns: keys)
        var weights = UnsafePointer(scores)
        if let dropoutMask, let dropped {
            for i in 0..<(queryLength * keys) { dropped[i] = scores[i] * dropoutMask[i] }
            weights = UnsafePointer(dropped)
        }
        gemm(transposeA: false, transposeB: false, m: queryLength, n: headDim, k: keys,
             a: weights, lda: keys, b: v, ldb: ldv, beta: 0, c: out, ldc: ldo)
    }
}
