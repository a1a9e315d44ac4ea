import Foundation
import StrataAutodiff
import StrataCache
import StrataTensor
import StrataTestSupport
import Testing
@testable import StrataTrain

/// The streaming pair loader against a simple in-memory reference, and blocked evaluation against the
/// full score matrix.
@Suite("Streaming pairs", .serialized)
struct StreamingPairTests {
    /// A small f16 cache (widening and `[C, H, W]` → tokens exercised), written once.
    static let cache: Result<String, Error> = Result {
        let path = SyntheticCaches.root.appendingPathComponent("streaming-f16").path
        var spec = SyntheticPairCache.small
        spec.dtype = .f16
        spec.trainImages = 60
        spec.valImages = 20
        try spec.write(to: path)
        return path
    }

    /// The reference: every value of the split read whole into memory, as tokens.
    struct Reference {
        var tokens: [String: [UInt64: (values: [Float], count: Int)]] = [:]

        init(reader: CacheReader, data: PairData, maxTextLength: Int) throws {
            for (names, ids) in [(data.imageColumns, data.imageIDs), (data.textColumns, data.captionIDs)] {
                for name in names {
                    for id in ids {
                        let value = try #require(try reader.value(column: name, id: id))
                        let floats = value.converted(to: .f32).floats
                        let shape = value.shape
                        if shape.count == 3 {
                            let (c, positions) = (shape[0], shape[1] * shape[2])
                            var out = [Float](repeating: 0, count: floats.count)
                            for ch in 0..<c { for p in 0..<positions { out[p * c + ch] = floats[ch * positions + p] } }
                            tokens[name, default: [:]][id] = (out, positions)
                        } else if shape.count == 2 {
                            let n = min(shape[0], maxTextLength)
                            tokens[name, default: [:]][id] = (Array(floats.prefix(n * shape[1])), n)
                        } else {
                            tokens[name, default: [:]][id] = (floats, 1)
                        }
                    }
                }
            }
        }

        /// `[B, L, W]` zero-padded values and the `[B, L]` mask (nil when no row is short).
        func batch(_ name: String, ids: [UInt64], width: Int) -> (values: [Float], mask: [Float]?) {
            let rows = ids.compactMap { tokens[name]?[$0] }
            let longest = rows.map(\.count).max() ?? 0
            var values = [Float](repeating: 0, count: ids.count * longest * width)
            var mask = [Float](repeating: 0, count: ids.count * longest)
            for (r, row) in rows.enumerated() {
                for i in row.values.indices { values[r * longest * width + i] = row.values[i] }
                for t in 0..<row.count { mask[r * longest + t] = 1 }
            }
            return (values, rows.allSatisfy { $0.count == longest } ? nil : mask)
        }
    }

    @Test func streamedEpochsEqualTheInMemoryReference() throws {
        let reader = try CacheReader(path: try Self.cache.get())
        let imageColumns = ["image/synth/c3", "image/synth/c5", "image/synth/pooled"]
        let textColumns = ["text/synth/tokens", "text/synth/mean"]
        var options = LoaderOptions()
        options.threads = 3
        options.prefetch = 2
        let data = try PairData(reader: reader, split: "train", imageColumns: imageColumns, textColumns: textColumns,
                                maxTextLength: 6, options: options)
        #expect(data.imageCount == 60 && data.captionCount == 300)
        let reference = try Reference(reader: reader, data: data, maxTextLength: 6)
        let plan = EpochPlan(captionCounts: data.captionsOfImage.map(\.count), batchSize: 16, seed: 5)
        var ragged = 0
        for epoch in 0..<2 {
            let batches = plan.batches(epoch: epoch)
            #expect(batches.count == 4)
            #expect(batches.flatMap(\.images).sorted() == Array(0..<60))
            let rows = batches.map { batch in
                PairData.Rows(images: batch.images, captions: zip(batch.images, batch.captionChoice).map { data.caption(ofImage: $0, choice: $1) })
            }
            let stream = data.stream(rows)
            var delivered: [PairData.Rows] = []
            while let (batchRows, inputs) = try stream.next() {
                delivered.append(batchRows)
                for (names, ids, features) in [(imageColumns, batchRows.images.map { data.imageIDs[$0] }, inputs.images),
                                               (textColumns, batchRows.captions.map { data.captionIDs[$0] }, inputs.texts)] {
                    for name in names {
                        let got = try #require(features[name])
                        let expected = reference.batch(name, ids: ids, width: got.width)
                        #expect(got.values.floats == expected.values, "\(name)")
                        #expect(got.mask?.floats == expected.mask, "\(name) mask")
                        if expected.mask != nil { ragged += 1 }
                    }
                }
            }
            #expect(delivered == rows)
        }
        #expect(ragged > 0)
        // The order is a pure function of (seed, epoch).
        let again = EpochPlan(captionCounts: data.captionsOfImage.map(\.count), batchSize: 16, seed: 5)
        #expect(again.batches(epoch: 1).map(\.images) == plan.batches(epoch: 1).map(\.images))
        #expect(again.batches(epoch: 1).map(\.captionChoice) == plan.batches(epoch: 1).map(\.captionChoice))
        #expect(plan.batches(epoch: 0).map(\.images) != plan.batches(epoch: 1).map(\.images))
    }

    /// An untrained head of `kind` on the synthetic columns.
    static func head(_ kind: HeadConfig.Kind, data: PairData) throws -> RetrievalHead {
        try HeadFactory.make(syntheticConfig(kind), imageWidths: data.imageWidths, textWidths: data.textWidths)
    }

    static func data(for kinds: [HeadConfig.Kind]) throws -> PairData {
        let configs = kinds.map(syntheticConfig)
        return try PairData(reader: CacheReader(path: try cache.get()), split: "val",
                            imageColumns: configs.flatMap(\.imageColumns), textColumns: configs.flatMap(\.textColumns))
    }

    @Test("blocked evaluation equals ranks of the whole score matrix", arguments: [HeadConfig.Kind.projector, .concatMLP, .decoupled])
    func blockedEvaluationEqualsTheFullMatrix(kind: HeadConfig.Kind) throws {
        let data = try Self.data(for: [kind])
        let head = try Self.head(kind, data: data)
        let tape = Tape(training: false)
        let whole = tape.value(of: try head.scores(data.inputs(images: Array(0..<data.imageCount), captions: Array(0..<data.captionCount)), on: tape)).floats
        let blocked = try RetrievalEvaluator.scoreMatrix(head, data: data)
        #expect(Conformance.maxAbsDifference(blocked, whole) <= 1e-5)
        let evaluation = try RetrievalEvaluator.evaluation(head, data: data)
        #expect(evaluation.method == (kind == .projector ? .embeddings : .allPairs))
        #expect(evaluation.metrics == RetrievalMetrics(scores: whole, images: data.imageCount, captionImage: data.captionImage))
    }

    @Test func reRankingEveryCandidateEqualsScoringEveryPair() throws {
        let data = try Self.data(for: [.projector, .decoupled])
        let ranker = try Self.head(.projector, data: data)
        let head = try Self.head(.decoupled, data: data)
        let all = try RetrievalEvaluator.evaluation(head, data: data)
        let reranked = try RetrievalEvaluator.evaluation(head, data: data, rerankTopK: data.captionCount, ranker: ranker)
        #expect(reranked.method == .rerank(k: data.captionCount, ranker: "projector", itm: false))
        #expect(reranked.metrics == all.metrics)
        #expect(reranked.rankerMetrics == (try RetrievalEvaluator.evaluate(ranker, data: data)))
        // With a short list (3), answers the ranker places 4th or later keep their rank and the others stay
        // within the top 3: Recall@5 and @10 are the ranker's.
        let short = try RetrievalEvaluator.evaluation(head, data: data, rerankTopK: 3, ranker: ranker)
        let first = try #require(short.rankerMetrics)
        for k in [5, 10] {
            #expect(short.metrics.imageToText[k] == first.imageToText[k])
            #expect(short.metrics.textToImage[k] == first.textToImage[k])
        }
        #expect(short.metrics != first)
    }
}
