import StrataCache

/// The batches of each training epoch: images in a seeded block-and-window shuffle (`ShuffleOrder`:
/// reads stay mostly sequential, the order is a pure function of seed and epoch), each paired with one
/// of its captions drawn at random, cut into batches (a batch's images are distinct, so the contrastive
/// loss has no false negatives). A last batch of fewer than two pairs is dropped.
public struct EpochPlan: Sendable {
    /// For each image, the number of captions it has.
    public let captionCounts: [Int]
    /// Pairs per batch.
    public let batchSize: Int
    /// Seed of the order and the caption choice.
    public let seed: UInt64
    /// Consecutive images (in key order) moved together by the block shuffle.
    public var block = 16
    /// Images shuffled among themselves after the block shuffle.
    public var window: Int

    /// A plan over images with `captionCounts[i]` captions each; the window spans eight batches.
    public init(captionCounts: [Int], batchSize: Int, seed: UInt64) {
        self.captionCounts = captionCounts
        self.batchSize = batchSize
        self.seed = seed
        window = 8 * batchSize
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        let full = captionCounts.count / batchSize
        return captionCounts.count % batchSize >= 2 ? full + 1 : full
    }

    /// The batches of `epoch`: per batch, the image rows and, for each, which of its captions (0-based).
    public func batches(epoch: Int) -> [(images: [Int], captionChoice: [Int])] {
        var generator = ShuffleOrder.generator(seed: seed, epoch: epoch)
        let order = ShuffleOrder.positions(count: captionCounts.count, block: block, window: window, generator: &generator)
        let choice = order.map { Int(generator.next() % UInt64(max(captionCounts[$0], 1))) }
        var result: [(images: [Int], captionChoice: [Int])] = []
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let end = min(start + batchSize, order.count)
            guard end - start >= 2 else { break }
            result.append((Array(order[start..<end]), Array(choice[start..<end])))
        }
        return result
    }
}
