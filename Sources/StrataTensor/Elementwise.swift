import CStrataKernels
import Foundation

extension Kernels {
    // MARK: Raw activations

    /// `x = max(x, 0)` over `count` floats.
    public static func reluRaw(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] < 0 ? 0 : x[i] }
    }

    /// `x = min(max(x, 0), 6)` over `count` floats.
    public static func relu6Raw(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = min(max(x[i], 0), 6) }
    }

    /// Exact GELU, `x/2 · (1 + erf(x/√2))`, over `count` floats (the erf form, not the tanh
    /// approximation; `erf` itself is evaluated to within 5e-7). With Strata's AVX-512 kernels in use, the
    /// same approximation runs on AVX-512 registers (with fused multiply-adds, so results may differ in the
    /// last bit).
    public static func geluRaw(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if GemmBackend.usesStrataKernels {
            strata_gelu_avx512(x, count)
            return
        }
        geluPortable(x, count: count)
    }

    /// GELU in plain Swift (what the compiler vectorises for the baseline CPU).
    static func geluPortable(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let invSqrt2: Float = 0.70710678118654752440
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + FastMath.erf(v * invSqrt2))
        }
    }

    /// `x = tanh(x)` over `count` floats.
    public static func tanhRaw(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = tanhf(x[i]) }
    }

    /// Applies `activation` to `count` floats in place.
    public static func applyRaw(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .none: return
        case .relu: reluRaw(x, count: count)
        case .gelu: geluRaw(x, count: count)
        case .tanh: tanhRaw(x, count: count)
        case .relu6: relu6Raw(x, count: count)
        }
    }

    // MARK: Tensor activations

    /// Applies `activation` to every element of an `f32` tensor in place.
    public static func apply(_ activation: Activation, to x: inout Tensor) throws {
        try requireF32(x, "apply(\(activation))")
        if activation == .none { return }
        x.withUnsafeMutableFloats { p in
            if let base = p.baseAddress { applyRaw(activation, base, count: p.count) }
        }
    }

    /// `max(x, 0)` element-wise.
    public static func relu(_ x: Tensor) throws -> Tensor {
        var y = x
        try reluInPlace(&y)
        return y
    }

    /// `x = max(x, 0)` element-wise, in place.
    public static func reluInPlace(_ x: inout Tensor) throws { try apply(.relu, to: &x) }

    /// Exact (erf) GELU element-wise, as PyTorch's `gelu(approximate='none')`.
    public static func gelu(_ x: Tensor) throws -> Tensor {
        var y = x
        try geluInPlace(&y)
        return y
    }

    /// Exact (erf) GELU element-wise, in place.
    public static func geluInPlace(_ x: inout Tensor) throws { try apply(.gelu, to: &x) }

    /// The hyperbolic tangent element-wise.
    public static func tanh(_ x: Tensor) throws -> Tensor {
        var y = x
        try tanhInPlace(&y)
        return y
    }

    /// The hyperbolic tangent element-wise, in place.
    public static func tanhInPlace(_ x: inout Tensor) throws { try apply(.tanh, to: &x) }

    // MARK: Sums

    /// `x + y` for tensors of the same shape.
    public static func add(_ x: Tensor, _ y: Tensor) throws -> Tensor {
        var sum = x
        try addInPlace(&sum, y)
        return sum
    }

    /// `x = activation(x + y)` for tensors of the same shape (a residual connection, optionally fused
    /// with the ReLU that follows it in ResNet blocks).
    public static func addInPlace(_ x: inout Tensor, _ y: Tensor, activation: Activation = .none) throws {
        let op = "add"
        try requireF32(x, op)
        try requireF32(y, op)
        guard x.shape == y.shape else { throw TensorError.shapeMismatch(operation: op, lhs: x.shape, rhs: y.shape) }
        y.withUnsafeFloats { py in
            x.withUnsafeMutableFloats { px in
                guard let a = px.baseAddress, let b = py.baseAddress else { return }
                let n = px.count
                if activation == .relu {
                    for i in 0..<n { let s = a[i] + b[i]; a[i] = s < 0 ? 0 : s }
                } else {
                    for i in 0..<n { a[i] += b[i] }
                    applyRaw(activation, a, count: n)
                }
            }
        }
    }

    /// `x + bias` with `bias` (`[C]`) added along the last dimension (`C`) of `x`.
    public static func addBias(_ x: Tensor, _ bias: Tensor) throws -> Tensor {
        var y = x
        try addBiasInPlace(&y, bias)
        return y
    }

    /// Adds `bias` (`[C]`) along the last dimension (`C`) of `x`, in place.
    public static func addBiasInPlace(_ x: inout Tensor, _ bias: Tensor) throws {
        let op = "addBias"
        try requireF32(x, op)
        guard x.rank >= 1 else { throw TensorError.invalidArgument(operation: op, reason: "x is a scalar") }
        let columns = x.shape[x.rank - 1]
        try requireVector(bias, length: columns, name: "bias", op)
        bias.withUnsafeFloats { pb in
            x.withUnsafeMutableFloats { px in
                guard let a = px.baseAddress, let b = pb.baseAddress, columns > 0 else { return }
                for row in 0..<(px.count / columns) {
                    let r = a + row * columns
                    for j in 0..<columns { r[j] += b[j] }
                }
            }
        }
    }

    /// Adds `bias[c]` to every element of channel `c` of NCHW data (`[N, C, ...]`), in place.
    public static func addChannelBiasInPlace(_ x: inout Tensor, _ bias: Tensor) throws {
        let op = "addChannelBias"
        try requireF32(x, op)
        guard x.rank >= 2 else { throw TensorError.invalidArgument(operation: op, reason: "x needs [N, C, ...], got \(x.shape)") }
        let channels = x.shape[1]
        try requireVector(bias, length: channels, name: "bias", op)
        let plane = x.shape.dropFirst(2).reduce(1, *)
        let batch = x.shape[0]
        bias.withUnsafeFloats { pb in
            x.withUnsafeMutableFloats { px in
                guard let a = px.baseAddress, let b = pb.baseAddress else { return }
                for n in 0..<batch {
                    for c in 0..<channels {
                        let p = a + (n * channels + c) * plane
                        let v = b[c]
                        for i in 0..<plane { p[i] += v }
                    }
                }
            }
        }
    }
}
