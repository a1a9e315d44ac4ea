import StrataTensor

/// A trainable tensor and its accumulated gradient.
///
/// Gradients accumulate across `Tape.backward` calls, as in PyTorch, until `zeroGradient()` (or the
/// optimiser's `zeroGradients()`) clears them. The gradient buffer is allocated once.
public final class Parameter {
    /// The current value (`f32`).
    public var value: Tensor
    /// The accumulated gradient, same shape as `value`.
    public var gradient: Tensor

    /// A parameter starting at `value` (converted to `f32`), with a zero gradient.
    public init(_ value: Tensor) {
        self.value = value.converted(to: .f32)
        gradient = Tensor(zeros: value.shape)
    }

    /// The parameter's shape.
    public var shape: [Int] { value.shape }

    /// Sets every gradient element to zero.
    public func zeroGradient() {
        gradient.withUnsafeMutableFloats { g in
            if let base = g.baseAddress { base.update(repeating: 0, count: g.count) }
        }
    }

    /// Clamps every value into `range` in place, outside autodiff (CLIP clamps `logit_scale` to
    /// `[0, ln 100]` after each optimiser step so the temperature never drops below 0.01).
    public func clamp(to range: ClosedRange<Float>) {
        value.withUnsafeMutableFloats { p in
            for i in 0..<p.count { p[i] = min(max(p[i], range.lowerBound), range.upperBound) }
        }
    }

    /// Replaces the value with `tensor` of the same shape (converted to `f32`).
    public func assign(_ tensor: Tensor, name: String) throws {
        guard tensor.shape == value.shape else {
            throw AutodiffError.stateMismatch(name: name, reason: "shape \(tensor.shape), the module needs \(value.shape)")
        }
        value = tensor.converted(to: .f32)
    }
}
