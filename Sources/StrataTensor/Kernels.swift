/// The CPU compute kernels of Strata's encoders and heads, all on `f32`, all row-major.
///
/// Layouts: images are NCHW (`[batch, channels, height, width]`), transformer activations are
/// `[batch, sequence, hidden]`, and weights keep PyTorch's layouts (`Linear`: `[out, in]`,
/// `Conv2d`: `[out, in, kh, kw]`), so checkpoints load without transposing.
///
/// Most kernels come in two forms:
/// - a convenience form that returns a new `Tensor`;
/// - an `into:` form that writes into a caller-kept output tensor (resized with
///   `Tensor.prepareOutput(shape:)`, which reuses its storage) and, where scratch memory is needed, a
///   caller-kept `Workspace`. After the first (warm-up) call with the largest shapes, a forward pass
///   built on these forms does not allocate element storage.
/// Element-wise kernels also have `…InPlace` forms. Shape, dtype and argument errors throw `TensorError`.
///
/// ## Public functions (all `static` on `Kernels` unless noted)
///
/// BLAS and matrix products (`Gemm.swift`, `Linear.swift`)
/// - `blasThreads` / `setBLASThreads(_:)`: the gemm thread count (process-wide; OpenBLAS's, also used by
///   Strata's own kernels).
/// - `gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`: raw sgemm, C = α·op(A)·op(B) + β·C,
///   through `GemmBackend.default` (Strata's AVX-512 kernels on CPUs that have AVX-512F, else `cblas_sgemm`);
///   `gemm(…backend:)` picks the backend; `gemm(…packedA:…packedB:…)` takes operands packed once
///   (`PackedMatrix`, e.g. weights packed at load).
/// - `onCallingThreadOnly(_:)` / `gemmThreads`: keep a thread's gemms on that thread (for callers that spread
///   work over threads themselves) / the threads a gemm called here may use.
/// - `gemmStridedBatched(…strideA:…strideB:…strideC:batchCount:)`: the same over a batch at fixed strides.
/// - `gemmBatched(…a:[ptr] b:[ptr] c:[ptr]…)`: the same over arrays of matrix pointers.
/// - `matmul(_:_:transposeA:transposeB:alpha:)` / `matmul(…beta:into:)`: 2-D or batched 3-D products
///   of tensors, a 2-D operand broadcast over the other's batch.
/// - `linear(_:weight:bias:activation:)` / `linear(…into:)`: `x·Wᵀ + b` over the last dimension, `W` as `[out, in]`.
/// - `linearRaw(_:rows:inFeatures:xRowStride:weight:bias:outFeatures:activation:out:)`: the same on raw rows
///   (a row stride picks e.g. the first token of each sequence).
///
/// Convolution (`Conv2D.swift`, `Im2Col.swift`, `BatchNormFolding.swift`)
/// - `conv2d(_:weight:bias:stride:padding:dilation:activation:)` / `conv2d(…into:workspace:)`: NCHW
///   convolution; 1x1 stride-1 unpadded kernels multiply the input directly, others go through im2col;
///   feature maps under 128 positions of several images share one gemm; bias and activation are fused into one pass.
/// - `conv2dOutputShape(input:weight:stride:padding:dilation:)`, `conv2dWorkspaceCount(…)`.
/// - `im2col(_:channels:height:width:kernel:stride:padding:dilation:outHeight:outWidth:rowStride:into:)`:
///   the raw column unfolding of one image.
/// - `depthwiseConv2d(_:weight:bias:stride:padding:activation:)` / `…into:` (`DepthwiseConv.swift`): one
///   filter per channel, direct loops (no im2col), per-side padding (`Padding2D`, e.g. TensorFlow's "SAME").
/// - `conv2d(…padding: Padding2D…into:workspace:)`: the same convolution with padding per side.
/// - `foldBatchNorm(weight:bias:gamma:beta:mean:variance:eps:)`: a conv's weight and bias with an
///   inference batch-norm folded in.
///
/// Pooling (`Pooling.swift`)
/// - `maxPool2d(_:kernel:stride:padding:ceilMode:)` / `…into:`: padding counts as -inf.
/// - `avgPool2d(_:kernel:stride:padding:ceilMode:countIncludePad:)` / `…into:`.
/// - `adaptiveAvgPool2d(_:outputSize:)` / `…into:`: windows `[⌊i·in/out⌋, ⌈(i+1)·in/out⌉)`.
/// - `globalAvgPool2d(_:)` / `…into:`: `[N, C, H, W]` → `[N, C]`.
///
/// Normalisation, activations and element-wise ops (`LayerNorm.swift`, `Elementwise.swift`, `Softmax.swift`)
/// - `layerNorm(_:weight:bias:eps:)` / `…into:` / `layerNormInPlace(_:weight:bias:eps:)`: over the last dimension.
/// - `relu`, `gelu` (exact erf form), `tanh` (and `relu6` as an `Activation`), each with an `…InPlace` form; `apply(_:to:)` for an `Activation`.
/// - `add(_:_:)` / `addInPlace(_:_:activation:)`: same-shape sum (residuals), optionally fused with an activation.
/// - `addBias(_:_:)` / `addBiasInPlace(_:_:)`: a vector added along the last dimension.
/// - `addChannelBiasInPlace(_:_:)`: a per-channel vector added to NCHW data.
/// - `softmax(_:)` / `softmaxInPlace(_:)` / `softmaxRows(_:rows:columns:)`: stable softmax over the last dimension.
/// - Raw-pointer forms for the hot loops: `reluRaw`, `geluRaw`, `tanhRaw`, `applyRaw(_:_:count:)`, `layerNormRows`.
///
/// Attention (`Attention.swift`)
/// - `attention(query:key:value:heads:keyMask:scale:)` / `…into:workspace:`: multi-head scaled
///   dot-product attention over `[B, L, H·D]` tensors with an optional `KeyMask`.
/// - `attention(packedQKV:heads:keyMask:scale:into:workspace:)`: the same with Q, K, V side by side in
///   one `[B, L, 3·H·D]` tensor (the output of one fused projection).
/// - `stridedAttention(q:k:v:rowStride:batchStride:…)`: the loop under both, over rows read in place
///   (the encoders' packed projections), spread over single-threaded workers (`SingleThreadedBLAS`);
///   `attentionHead(…)` is one entry and head of it (training saves its weights), `keyBias(_:batch:keyLength:)`
///   turns a `KeyMask` into per-key biases and lengths.
/// - `attentionWorkspaceCount(queryLength:keyLength:)`.
///
/// Supporting types: `Size2D` (height/width pairs, writable as an integer literal), `Padding2D` and `Activation`
/// (`KernelTypes.swift`), `KeyMask` (`Attention.swift`), `Workspace` (`Workspace.swift`), and
/// `Tensor.prepareOutput(shape:)`.
public enum Kernels {}

// MARK: - Shared argument checks

extension Kernels {
    /// Throws unless `tensor` is `f32`.
    static func requireF32(_ tensor: Tensor, _ operation: String) throws {
        guard tensor.dtype == .f32 else {
            throw TensorError.dtypeMismatch(operation: operation, expected: .f32, actual: tensor.dtype)
        }
    }

    /// Throws unless `tensor` is `f32` of rank `rank`.
    static func requireF32(_ tensor: Tensor, rank: Int, _ operation: String) throws {
        try requireF32(tensor, operation)
        guard tensor.rank == rank else {
            throw TensorError.invalidArgument(operation: operation,
                                              reason: "expected a rank-\(rank) tensor, got shape \(tensor.shape)")
        }
    }

    /// Throws unless the optional `vector` is an `f32` vector of `length` elements.
    static func requireVector(_ vector: Tensor?, length: Int, name: String, _ operation: String) throws {
        guard let vector else { return }
        try requireF32(vector, operation)
        guard vector.count == length, vector.rank <= 1 || vector.shape.dropLast().allSatisfy({ $0 == 1 }) else {
            throw TensorError.invalidArgument(operation: operation,
                                              reason: "\(name) must hold \(length) values, got shape \(vector.shape)")
        }
    }

    /// Runs `body` with the elements of an optional `f32` tensor (nil when absent).
    static func withOptionalFloats<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        guard let tensor else { return try body(nil) }
        return try tensor.withUnsafeFloats { try body($0.baseAddress) }
    }
}
