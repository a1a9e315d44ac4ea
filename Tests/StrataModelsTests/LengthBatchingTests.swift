import Testing
import StrataTensor
@testable import StrataModels

@Suite struct LengthBatchingTests {
    @Test func groupsByLengthAndCoversEveryIndex() {
        let lengths = [12, 30, 9, 12, 15, 9, 40, 11, 13, 14]
        let batches = LengthBatching.batches(lengths: lengths, maxBatchSize: 4)
        #expect(batches.map(\.indices) == [[2, 5, 7, 0], [3, 8, 9, 4], [1, 6]])
        #expect(batches.map(\.paddedLength) == [12, 15, 40])
        #expect(batches.flatMap(\.indices).sorted() == Array(lengths.indices))
        let unsorted = [LengthBatching.Batch(indices: Array(0..<4), paddedLength: 30),
                        LengthBatching.Batch(indices: Array(4..<8), paddedLength: 40),
                        LengthBatching.Batch(indices: [8, 9], paddedLength: 14)]
        #expect(LengthBatching.paddingOverhead(lengths: lengths, batches: batches)
                < LengthBatching.paddingOverhead(lengths: lengths, batches: unsorted))
    }

    @Test func tokenBudgetCutsBatches() {
        let batches = LengthBatching.batches(lengths: [10, 10, 10, 50, 50], maxBatchSize: 64, maxTokens: 100)
        #expect(batches.map(\.indices) == [[0, 1, 2], [3, 4]])
        #expect(LengthBatching.batches(lengths: [], maxBatchSize: 8).isEmpty)
        #expect(LengthBatching.batches(lengths: [200], maxBatchSize: 8, maxTokens: 100).map(\.indices) == [[0]])
    }

    @Test func packsPaddedIdsAndMask() throws {
        let tokens: [[Int32]] = [[101, 7, 102], [101, 102], [101, 5, 6, 102]]
        let batch = LengthBatching.batches(lengths: tokens.map(\.count), maxBatchSize: 2)[0]
        let (ids, mask) = try LengthBatching.pack(tokens, batch: batch)
        #expect(ids.shape == [2, 3])
        #expect(ids.int32s == [101, 102, 0, 101, 7, 102])
        #expect(mask.int32s == [1, 1, 0, 1, 1, 1])
    }
}
