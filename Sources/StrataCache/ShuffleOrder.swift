/// SplitMix64: a small, fast, seedable generator whose stream is the same on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The order in which an epoch visits samples: a Fisher-Yates shuffle driven by SplitMix64 seeded
/// from (seed, epoch), so every epoch differs and each is reproducible.
enum ShuffleOrder {
    static func permuted(_ ids: [UInt64], seed: UInt64, epoch: Int) -> [UInt64] {
        var generator = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03))
        var result = ids
        var i = result.count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            result.swapAt(i, j)
            i -= 1
        }
        return result
    }
}
