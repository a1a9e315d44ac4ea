import Foundation
import StrataTensor

/// `torch.optim.AdamW`: Adam with decoupled weight decay and bias correction.
///
/// Per parameter and step `t`: `p ← p·(1 - lr·λ)`, `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`,
/// `p ← p - (lr / (1-β₁ᵗ)) · m / (√v / √(1-β₂ᵗ) + ε)` — `ε` added after the bias-corrected root, as
/// PyTorch does. Moment buffers are allocated once.
public final class AdamW {
    /// One optimised parameter with its name (for error messages), weight decay and moment buffers.
    final class Slot {
        let name: String
        let parameter: Parameter
        let weightDecay: Float
        let firstMoment: UnsafeMutablePointer<Float>
        let secondMoment: UnsafeMutablePointer<Float>

        init(name: String, parameter: Parameter, weightDecay: Float) {
            self.name = name
            self.parameter = parameter
            self.weightDecay = weightDecay
            let n = max(parameter.value.count, 1)
            firstMoment = .allocate(capacity: n)
            firstMoment.initialize(repeating: 0, count: n)
            secondMoment = .allocate(capacity: n)
            secondMoment.initialize(repeating: 0, count: n)
        }

        deinit {
            firstMoment.deallocate()
            secondMoment.deallocate()
        }
    }

    let slots: [Slot]
    /// The learning rate of the next step (schedules set it).
    public var learningRate: Float
    /// `(β₁, β₂)`.
    public let betas: (Float, Float)
    /// Added to the denominator.
    public let eps: Float
    /// Steps taken so far.
    public private(set) var stepCount = 0

    /// AdamW over named parameters with PyTorch's defaults; parameters whose name `noDecay` accepts
    /// (e.g. biases and LayerNorm weights) get no weight decay.
    public init(_ parameters: [(name: String, parameter: Parameter)], learningRate: Float = 1e-3,
                betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float = 1e-2,
                noDecay: (String) -> Bool = { _ in false }) {
        slots = parameters.map {
            Slot(name: $0.name, parameter: $0.parameter, weightDecay: noDecay($0.name) ? 0 : weightDecay)
        }
        self.learningRate = learningRate
        self.betas = betas
        self.eps = eps
    }

    /// Zeroes every parameter's gradient.
    public func zeroGradients() {
        for slot in slots { slot.parameter.zeroGradient() }
    }

    /// The named parameters being optimised.
    public var namedParameters: [(name: String, parameter: Parameter)] { slots.map { ($0.name, $0.parameter) } }

    /// Applies one update from the current gradients. Throws `AutodiffError.nonFinite`, before changing
    /// anything, when a gradient holds NaN or Inf (naming the step and the parameter).
    public func step() throws {
        try FiniteCheck.gradients(namedParameters, step: stepCount + 1)
        stepCount += 1
        let (beta1, beta2) = betas
        let t = Double(stepCount)
        let biasCorrection1 = 1 - Foundation.pow(Double(beta1), t)
        let biasCorrection2Root = (1 - Foundation.pow(Double(beta2), t)).squareRoot()
        let stepSize = Float(Double(learningRate) / biasCorrection1)
        let rootCorrection = Float(biasCorrection2Root)
        let lr = learningRate
        let (eps, oneMinusBeta1, oneMinusBeta2) = (eps, 1 - beta1, 1 - beta2)
        for slot in slots {
            let decay = Float(1 - Double(lr) * Double(slot.weightDecay))
            let (m, v) = (slot.firstMoment, slot.secondMoment)
            let gradient = slot.parameter.gradient
            gradient.withUnsafeFloats { g in
                slot.parameter.value.withUnsafeMutableFloats { p in
                    for i in 0..<p.count {
                        let gi = g[i]
                        p[i] *= decay
                        m[i] += oneMinusBeta1 * (gi - m[i])
                        v[i] = v[i] * beta2 + oneMinusBeta2 * gi * gi
                        p[i] -= stepSize * (m[i] / (v[i].squareRoot() / rootCorrection + eps))
                    }
                }
            }
        }
    }
}
