import StrataAutodiff
import StrataTensor

/// A head whose scores are cosine similarities of one embedding per image and one per caption, so
/// retrieval embeds every item once and scores all pairs by blocked matrix products.
public protocol EmbeddingHead: RetrievalHead {
    /// Unit-norm embeddings `[B, D]` of the images in `inputs`.
    func imageEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable
    /// Unit-norm embeddings `[B, D]` of the captions in `inputs`.
    func textEmbeddings(_ inputs: PairInputs, on tape: Tape) throws -> Variable
}

/// How an evaluation scored the pairs of a split.
public enum EvaluationMethod: Equatable, Sendable, CustomStringConvertible {
    /// Every pair by the cosine of the head's image and caption embeddings, in blocks.
    case embeddings
    /// Every pair scored by the head itself, in blocks.
    case allPairs
    /// Each query's top `k` candidates by `ranker`'s ranking re-scored by the head (`itm`: by its
    /// image-text matching logit), as BLIP and ALBEF evaluate; candidates beyond `k` keep their order.
    case rerank(k: Int, ranker: String, itm: Bool)

    public var description: String {
        switch self {
        case .embeddings: return "all pairs scored by the head's embeddings, in blocks"
        case .allPairs: return "all pairs scored by the head, in blocks"
        case let .rerank(k, ranker, itm):
            return "top \(k) of \(ranker)'s ranking re-ranked by the head's \(itm ? "ITM logit" : "score")"
        }
    }
}

/// Retrieval metrics of a head on a split, with how they were computed.
public struct Evaluation: Sendable {
    /// The metrics.
    public let metrics: RetrievalMetrics
    /// How the pairs were scored.
    public let method: EvaluationMethod
    /// The ranker's own metrics when the head re-ranked its candidates.
    public let rankerMetrics: RetrievalMetrics?
}

/// Scores the images of a split against its captions with a head, and measures retrieval, in memory
/// bounded by a block of score rows (`blockRows × captions`) and the loader's batches: ranks are counted
/// block by block and no `images × captions` matrix is ever held.
public enum RetrievalEvaluator {
    /// Image rows scored against every caption at a time.
    public static let blockRows = 128

    /// Metrics of `head` on `data`. Embedding heads score all pairs by their embeddings. With
    /// `rerankTopK > 0`, a head with an ITM classifier re-ranks the top candidates of its own embedding
    /// ranking; any other head re-ranks those of `ranker` when one is given. Otherwise the head scores
    /// every pair in blocks.
    public static func evaluate(_ head: RetrievalHead, data: PairData, rerankTopK: Int = 0,
                                ranker: RetrievalHead? = nil) throws -> RetrievalMetrics {
        try evaluation(head, data: data, rerankTopK: rerankTopK, ranker: ranker).metrics
    }

    /// `evaluate`, also telling which method ran and, when re-ranking, the ranker's own metrics.
    public static func evaluation(_ head: RetrievalHead, data: PairData, rerankTopK: Int = 0,
                                  ranker: RetrievalHead? = nil) throws -> Evaluation {
        let k = min(rerankTopK, max(data.imageCount, data.captionCount))
        if k > 0 {
            let hasITM = head.config.kind == .crossAttention
            if hasITM || ranker != nil {
                let coarse = hasITM ? head : (ranker ?? head)
                let sweep = try self.sweep(coarse, data: data, topK: k)
                let metrics = try rerank(head, itm: hasITM, data: data, base: sweep)
                return Evaluation(metrics: metrics, method: .rerank(k: k, ranker: hasITM ? "its embeddings" : coarse.config.name, itm: hasITM),
                                  rankerMetrics: sweep.metrics)
            }
        }
        let sweep = try self.sweep(head, data: data, topK: 0)
        return Evaluation(metrics: sweep.metrics, method: head is EmbeddingHead ? .embeddings : .allPairs, rankerMetrics: nil)
    }

    /// The `images × captions` score matrix (row-major) of `head` on `data`, for small splits and tests.
    public static func scoreMatrix(_ head: RetrievalHead, data: PairData) throws -> [Float] {
        var matrix: [Float] = []
        try scorer(head, data: data).rows(0..<data.imageCount) { _, block in matrix += block }
        return matrix
    }

    // MARK: Scoring

    /// Scores of image row blocks against all captions, and of images against their own captions.
    struct Scorer {
        /// Calls `body` with consecutive ranges of `images` and their `[range × captions]` scores.
        let rows: (_ images: Range<Int>, _ body: (Range<Int>, [Float]) throws -> Void) throws -> Void
        /// For the images of `range`, the scores of their own captions (in caption order).
        let own: (_ images: Range<Int>) throws -> [Float]
    }

    static func scorer(_ head: RetrievalHead, data: PairData) throws -> Scorer {
        let tape = Tape(training: false)
        let captions = data.captionCount
        let imageBlocks = { (range: Range<Int>, size: Int) in
            stride(from: range.lowerBound, to: range.upperBound, by: size).map { $0..<min($0 + size, range.upperBound) }
        }
        if let head = head as? EmbeddingHead {
            // Every item embedded once: `[captions, D]` and `[images, D]` stay small.
            func embed(_ batches: [PairData.Rows], images: Bool) throws -> [Float] {
                var result: [Float] = []
                let stream = data.stream(batches)
                while let (_, inputs) = try stream.next() {
                    tape.reset()
                    result += tape.value(of: try images ? head.imageEmbeddings(inputs, on: tape) : head.textEmbeddings(inputs, on: tape)).floats
                }
                return result
            }
            // Image features are the large ones (a 7×7 map of 2048 channels is 400 kB as f32): small blocks.
            let text = try embed(imageBlocks(0..<captions, 256).map { PairData.Rows(images: [], captions: Array($0)) }, images: false)
            let image = try embed(imageBlocks(0..<data.imageCount, 32).map { PairData.Rows(images: Array($0), captions: []) }, images: true)
            let width = captions > 0 ? text.count / captions : 0
            let textTensor = try Tensor(shape: [captions, width], floats: text)
            return Scorer(rows: { range, body in
                for rows in imageBlocks(range, blockRows) {
                    let slice = try Tensor(shape: [rows.count, width], floats: Array(image[(rows.lowerBound * width)..<(rows.upperBound * width)]))
                    tape.reset()
                    let scores = try tape.matmul(tape.constant(slice), tape.constant(textTensor), transposeB: true)
                    try body(rows, tape.value(of: scores).floats)
                }
            }, own: { range in
                var result: [Float] = []
                for i in range {
                    for t in data.index.captions(ofImage: i) {
                        var dot: Float = 0
                        for j in 0..<width { dot += image[i * width + j] * text[t * width + j] }
                        result.append(dot)
                    }
                }
                return result
            })
        }
        let (imageBlock, captionBlock) = head.evaluationBlock
        let captionBatches = imageBlocks(0..<captions, captionBlock)
        return Scorer(rows: { range, body in
            for rows in imageBlocks(range, min(imageBlock, blockRows)) {
                var block = [Float](repeating: 0, count: rows.count * captions)
                let images = try data.imageBatch(Array(rows))
                // Caption blocks stream past each image block: nothing but one block is held.
                let stream = data.stream(captionBatches.map { PairData.Rows(images: [], captions: Array($0)) })
                while let (batch, inputs) = try stream.next() {
                    tape.reset()
                    let values = tape.value(of: try head.scores(PairInputs(images: images, texts: inputs.texts), on: tape)).floats
                    for r in 0..<rows.count {
                        for (c, t) in batch.captions.enumerated() { block[r * captions + t] = values[r * batch.captions.count + c] }
                    }
                }
                try body(rows, block)
            }
        }, own: { range in
            var result: [Float] = []
            for rows in imageBlocks(range, imageBlock) {
                let own = data.index.captionStarts[rows.lowerBound]..<data.index.captionStarts[rows.upperBound]
                tape.reset()
                let values = tape.value(of: try head.scores(data.inputs(images: Array(rows), captions: Array(own)), on: tape)).floats
                for (c, t) in own.enumerated() { result.append(values[(data.captionImage[t] - rows.lowerBound) * own.count + c]) }
            }
            return result
        })
    }

    // MARK: Ranking

    /// Ranks of one pass over the score rows, and each query's top candidates when asked.
    struct Sweep {
        var metrics: RetrievalMetrics
        var imageRanks: [Int]
        var textRanks: [Int]
        var imageCandidates: [[Int]]
        var textCandidates: [[Int]]
    }

    /// One pass over `head`'s score rows: ranks as `RetrievalMetrics.ranks` counts them (ties against
    /// the query), and with `topK > 0` the `topK` best candidates of every query, best first.
    static func sweep(_ head: RetrievalHead, data: PairData, topK: Int) throws -> Sweep {
        let scorer = try self.scorer(head, data: data)
        let (images, captions) = (data.imageCount, data.captionCount)
        let own = try scorer.own(0..<images)
        var imageRanks = [Int](repeating: captions, count: images)
        var textAbove = [Int](repeating: 0, count: captions)
        var imageCandidates: [[Int]] = []
        var textTop = [TopK](repeating: TopK(k: topK), count: topK > 0 ? captions : 0)
        try scorer.rows(0..<images) { rows, block in
            for (r, i) in rows.enumerated() {
                let row = r * captions
                let mine = data.index.captions(ofImage: i)
                var bestOwn = -Float.infinity
                for t in mine { bestOwn = max(bestOwn, block[row + t]) }
                var above = 0
                for t in 0..<captions {
                    let s = block[row + t]
                    if mine.contains(t) { continue }
                    if s >= bestOwn { above += 1 }
                    if s >= own[t] { textAbove[t] += 1 }
                }
                if !mine.isEmpty { imageRanks[i] = above + 1 }
                if topK > 0 {
                    var top = TopK(k: topK)
                    for t in 0..<captions { top.insert(block[row + t], t) }
                    imageCandidates.append(top.ordered)
                    for t in 0..<captions { textTop[t].insert(block[row + t], i) }
                }
            }
        }
        let textRanks = textAbove.map { $0 + 1 }
        return Sweep(metrics: RetrievalMetrics(imageRanks: imageRanks, textRanks: textRanks), imageRanks: imageRanks,
                     textRanks: textRanks, imageCandidates: imageCandidates, textCandidates: textTop.map(\.ordered))
    }

    /// The `k` largest scores seen, ties kept in arrival order.
    struct TopK {
        let k: Int
        var items: [(score: Float, index: Int)] = []

        init(k: Int) { self.k = k }

        mutating func insert(_ score: Float, _ index: Int) {
            if items.count == k, let last = items.last, !(score > last.score) { return }
            var position = items.count
            while position > 0, score > items[position - 1].score { position -= 1 }
            items.insert((score, index), at: position)
            if items.count > k { items.removeLast() }
        }

        var ordered: [Int] { items.map(\.index) }
    }

    /// Re-orders every query's candidates by `head` (its ITM logits, or its scores); a query whose
    /// answer is not among its candidates keeps its rank.
    static func rerank(_ head: RetrievalHead, itm: Bool, data: PairData, base: Sweep) throws -> RetrievalMetrics {
        var imageRanks = base.imageRanks
        var textRanks = base.textRanks
        let tape = Tape(training: false)
        // One batch per query: the query against its candidates (repeated for the ITM's aligned pairs).
        var batches: [PairData.Rows] = []
        for (i, candidates) in base.imageCandidates.enumerated() {
            batches.append(PairData.Rows(images: [Int](repeating: i, count: itm ? candidates.count : 1), captions: candidates))
        }
        for (t, candidates) in base.textCandidates.enumerated() {
            batches.append(PairData.Rows(images: candidates, captions: [Int](repeating: t, count: itm ? candidates.count : 1)))
        }
        let stream = data.stream(batches)
        var query = 0
        while let (_, inputs) = try stream.next() {
            tape.reset()
            let values: [Float]
            if itm {
                guard let logits = try head.matchScores(inputs, on: tape) else {
                    throw TrainError.invalidArgument(operation: "evaluate", reason: "'\(head.config.name)' has no ITM classifier")
                }
                values = tape.value(of: logits).floats
            } else {
                values = tape.value(of: try head.scores(inputs, on: tape)).floats
            }
            let order = values.indices.sorted { values[$0] > values[$1] }
            if query < base.imageCandidates.count {
                let candidates = base.imageCandidates[query]
                if let position = order.firstIndex(where: { data.captionImage[candidates[$0]] == query }) { imageRanks[query] = position + 1 }
            } else {
                let t = query - base.imageCandidates.count
                let candidates = base.textCandidates[t]
                if let position = order.firstIndex(where: { candidates[$0] == data.captionImage[t] }) { textRanks[t] = position + 1 }
            }
            query += 1
        }
        return RetrievalMetrics(imageRanks: imageRanks, textRanks: textRanks)
    }
}
