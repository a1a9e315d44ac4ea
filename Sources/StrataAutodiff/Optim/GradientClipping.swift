import StrataTensor

/// Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`.
public enum GradientClipping {
    /// Scales every gradient by `min(1, maxNorm / (‖g‖ + 1e-6))`, where `‖g‖` is the L2 norm of all
    /// gradients together, and returns that total norm (before clipping).
    @discardableResult
    public static func clipGlobalNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
        var squares: Double = 0
        for parameter in parameters {
            parameter.gradient.withUnsafeFloats { g in
                for value in g { squares += Double(value) * Double(value) }
            }
        }
        let total = Float(squares.squareRoot())
        let coefficient = min(maxNorm / (total + 1e-6), 1)
        for parameter in parameters {
            parameter.gradient.withUnsafeMutableFloats { g in
                for i in 0..<g.count { g[i] *= coefficient }
            }
        }
        return total
    }
}

/// NaN/Inf detection that stops a run with the step and the parameter named.
public enum FiniteCheck {
    /// Throws `AutodiffError.nonFinite` for the first parameter whose gradient holds NaN or Inf.
    public static func gradients(_ parameters: [(name: String, parameter: Parameter)], step: Int) throws {
        for (name, parameter) in parameters where !allFinite(parameter.gradient) {
            throw AutodiffError.nonFinite(step: step, parameter: name, what: "gradient")
        }
    }

    /// Throws `AutodiffError.nonFinite` for the first parameter whose value holds NaN or Inf.
    public static func values(_ parameters: [(name: String, parameter: Parameter)], step: Int) throws {
        for (name, parameter) in parameters where !allFinite(parameter.value) {
            throw AutodiffError.nonFinite(step: step, parameter: name, what: "value")
        }
    }

    /// Throws `AutodiffError.nonFiniteLoss` when `loss` is NaN or Inf.
    public static func loss(_ loss: Float, step: Int) throws {
        guard loss.isFinite else { throw AutodiffError.nonFiniteLoss(step: step, value: loss) }
    }

    static func allFinite(_ tensor: Tensor) -> Bool {
        tensor.withUnsafeFloats { p in
            var sum: Float = 0
            for value in p { sum += value * 0 }  // NaN or Inf makes the sum NaN
            return !sum.isNaN
        }
    }
}
