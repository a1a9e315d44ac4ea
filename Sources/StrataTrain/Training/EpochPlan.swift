/// The batches of each training epoch: images in a seeded random order, each paired with one of its
/// captions drawn at random, cut into batches (a batch's images are distinct, so the contrastive loss
/// has no false negatives). A last batch of fewer than two pairs is dropped.
public struct EpochPlan: Sendable {
    /// For each image, the number of captions it has.
    public let captionCounts: [Int]
    /// Pairs per batch.
    public let batchSize: Int
    /// Seed of the order and the caption choice.
    public let seed: UInt64

    /// A plan over images with `captionCounts[i]` captions each.
    public init(captionCounts: [Int], batchSize: Int, seed: UInt64) {
        self.captionCounts = captionCounts
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        let full = captionCounts.count / batchSize
        return captionCounts.count % batchSize >= 2 ? full + 1 : full
    }

    /// The batches of `epoch`: per batch, the image rows and, for each, which of its captions (0-based).
    public func batches(epoch: Int) -> [(images: [Int], captionChoice: [Int])] {
        var generator = SeededGenerator(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        var order = Array(captionCounts.indices)
        var i = order.count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
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
