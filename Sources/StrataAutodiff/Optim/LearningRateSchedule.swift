import Foundation

/// Learning-rate schedules: the multiplier of the base rate at each step.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Linear warm-up from 0 over `warmupSteps`, then a half cosine to 0 at `totalSteps` — the same
    /// multiplier as Hugging Face's `get_cosine_schedule_with_warmup` under `torch.optim.lr_scheduler.LambdaLR`.
    case warmupCosine(warmupSteps: Int, totalSteps: Int)

    /// The multiplier for optimiser step `step` (0-based: the first `optimizer.step()` uses step 0).
    public func multiplier(at step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .warmupCosine(warmup, total):
            if step < warmup { return Float(Double(step) / Double(max(1, warmup))) }
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return Float(max(0, 0.5 * (1 + Foundation.cos(Double.pi * progress))))
        }
    }

    /// The learning rate for step `step` from `base`.
    public func learningRate(base: Float, at step: Int) -> Float { base * multiplier(at: step) }
}
