import StrataTensor

/// Groups captions by token length so a BERT batch pads little: sort by length, then cut into
/// batches of at most `maxBatchSize` captions and `maxTokens` padded tokens.
public enum LengthBatching {
    /// One batch: caption indices (into the caller's list) and the length they pad to.
    public struct Batch: Sendable, Equatable {
        /// Indices of the captions in this batch, shortest first.
        public var indices: [Int]
        /// The longest length among them: the batch's padded length.
        public var paddedLength: Int

        /// A batch of these captions padded to `paddedLength`.
        public init(indices: [Int], paddedLength: Int) {
            self.indices = indices
            self.paddedLength = paddedLength
        }
    }

    /// Batches over `lengths` (token counts, special tokens included). Every index appears exactly once;
    /// equal lengths keep their original order, so the result is deterministic.
    public static func batches(lengths: [Int], maxBatchSize: Int, maxTokens: Int? = nil) -> [Batch] {
        let order = lengths.indices.sorted { (lengths[$0], $0) < (lengths[$1], $1) }
        var result: [Batch] = []
        var current: [Int] = []
        var longest = 0
        for index in order {
            let length = lengths[index]
            let padded = max(longest, length) * (current.count + 1)
            if !current.isEmpty, current.count >= max(1, maxBatchSize) || (maxTokens.map { padded > $0 } ?? false) {
                result.append(Batch(indices: current, paddedLength: longest))
                current = []
                longest = 0
            }
            current.append(index)
            longest = max(longest, length)
        }
        if !current.isEmpty { result.append(Batch(indices: current, paddedLength: longest)) }
        return result
    }

    /// Padded `[N, L]` i32 input ids and attention mask for the captions of `batch` (`tokens[i]` are
    /// caption `i`'s ids; pad id 0).
    public static func pack(_ tokens: [[Int32]], batch: Batch) throws -> (ids: Tensor, mask: Tensor) {
        let (n, l) = (batch.indices.count, batch.paddedLength)
        var ids = [Int32](repeating: 0, count: n * l)
        var mask = [Int32](repeating: 0, count: n * l)
        for (row, index) in batch.indices.enumerated() {
            for (column, id) in tokens[index].prefix(l).enumerated() {
                ids[row * l + column] = id
                mask[row * l + column] = 1
            }
        }
        return (try Tensor(shape: [n, l], int32s: ids), try Tensor(shape: [n, l], int32s: mask))
    }

    /// Padded tokens over real tokens for these batches (1 means no padding).
    public static func paddingOverhead(lengths: [Int], batches: [Batch]) -> Double {
        let real = batches.reduce(0) { $0 + $1.indices.reduce(0) { $0 + lengths[$1] } }
        let padded = batches.reduce(0) { $0 + $1.indices.count * $1.paddedLength }
        return real == 0 ? 1 : Double(padded) / Double(real)
    }
}
