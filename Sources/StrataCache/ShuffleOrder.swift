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

/// The order in which an epoch visits `count` items (stored in key order): the items are cut into
/// blocks of `block` consecutive ones, the blocks are put in a random order, and then the items of each
/// run of `window` consecutive positions are shuffled among themselves. Reads stay mostly sequential
/// (a window touches `window / block` runs of neighbouring keys) while every batch mixes items from
/// several places of the cache. The order is a pure function of `(seed, epoch)`: SplitMix64 seeded
/// from both drives every draw, so each epoch differs and each is reproducible.
public enum ShuffleOrder {
    /// The generator of `epoch`'s draws; callers continue drawing from it after `positions`.
    public static func generator(seed: UInt64, epoch: Int) -> SplitMix64 {
        SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03))
    }

    /// A permutation of `0..<count`: block shuffle, then in-window shuffle, drawn from `generator`.
    public static func positions(count: Int, block: Int, window: Int, generator: inout SplitMix64) -> [Int] {
        let block = max(block, 1)
        let blocks = (count + block - 1) / block
        var blockOrder = Array(0..<blocks)
        shuffle(&blockOrder[...], &generator)
        var result: [Int] = []
        result.reserveCapacity(count)
        for b in blockOrder { result += (b * block)..<min((b + 1) * block, count) }
        let window = max(window, 1)
        for start in stride(from: 0, to: count, by: window) {
            shuffle(&result[start..<min(start + window, count)], &generator)
        }
        return result
    }

    /// Fisher-Yates over a slice.
    static func shuffle(_ items: inout ArraySlice<Int>, _ generator: inout SplitMix64) {
        var i = items.count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            items.swapAt(items.startIndex + i, items.startIndex + j)
            i -= 1
        }
    }
}
