import StrataTensor

/// Scores every image of a split against every caption with a head, and measures retrieval.
public enum RetrievalEvaluator {
    /// The `images × captions` score matrix (row-major), computed in evaluation mode in blocks of
    /// `head.evaluationBlock` pairs.
    public static func scoreMatrix(_ head: RetrievalHead, data: PairData) throws -> [Float] {
        let (imageBlock, captionBlock) = head.evaluationBlock
        let (images, captions) = (data.imageCount, data.captionCount)
        var scores = [Float](repeating: 0, count: images * captions)
        let tape = Tape(training: false)
        // Caption blocks are padded once and reused for every block of images.
        let captionBlocks = stride(from: 0, to: captions, by: captionBlock).map { t0 in
            let rows = Array(t0..<min(t0 + captionBlock, captions))
            return (rows: rows, batch: data.textBatch(rows))
        }
        for i0 in stride(from: 0, to: images, by: imageBlock) {
            let imageRows = Array(i0..<min(i0 + imageBlock, images))
            let imageBatch = data.imageBatch(imageRows)
            for (captionRows, textBatch) in captionBlocks {
                tape.reset()
                let block = try head.scores(PairInputs(images: imageBatch, texts: textBatch), on: tape)
                let values = tape.value(of: block).floats
                for (r, i) in imageRows.enumerated() {
                    for (c, t) in captionRows.enumerated() { scores[i * captions + t] = values[r * captionRows.count + c] }
                }
            }
        }
        return scores
    }

    /// ITM logits of the pairs `(image row, caption row)`, in blocks of `block`; nil when the head has none.
    public static func matchScores(_ head: RetrievalHead, data: PairData, pairs: [(Int, Int)], block: Int = 256) throws -> [Float]? {
        let tape = Tape(training: false)
        var result: [Float] = []
        result.reserveCapacity(pairs.count)
        for start in stride(from: 0, to: pairs.count, by: block) {
            let chunk = pairs[start..<min(start + block, pairs.count)]
            tape.reset()
            guard let logits = try head.matchScores(data.inputs(images: chunk.map(\.0), captions: chunk.map(\.1)), on: tape) else {
                return nil
            }
            result += tape.value(of: logits).floats
        }
        return result
    }

    /// Retrieval metrics of `head` on `data`; with `rerankTopK > 0` and an ITM head, each query's top
    /// candidates by score are re-ordered by the ITM logit (the rest keep their order after them).
    public static func evaluate(_ head: RetrievalHead, data: PairData, rerankTopK: Int = 0) throws -> RetrievalMetrics {
        let scores = try scoreMatrix(head, data: data)
        guard rerankTopK > 0 else {
            return RetrievalMetrics(scores: scores, images: data.imageCount, captionImage: data.captionImage)
        }
        return try reranked(head, data: data, scores: scores, k: rerankTopK)
    }

    /// Metrics of `head` on `data` by score alone and, from the same score matrix, with each query's top
    /// `rerankTopK` candidates re-ordered by the ITM logit.
    public static func evaluateBothWays(_ head: RetrievalHead, data: PairData,
                                        rerankTopK: Int) throws -> (scores: RetrievalMetrics, reranked: RetrievalMetrics) {
        let scores = try scoreMatrix(head, data: data)
        return (RetrievalMetrics(scores: scores, images: data.imageCount, captionImage: data.captionImage),
                try reranked(head, data: data, scores: scores, k: rerankTopK))
    }

    static func reranked(_ head: RetrievalHead, data: PairData, scores: [Float], k: Int) throws -> RetrievalMetrics {
        let (images, captions) = (data.imageCount, data.captionCount)
        let base = RetrievalMetrics.ranks(scores: scores, images: images, captionImage: data.captionImage)
        var imageRanks = base.imageRanks
        var textRanks = base.textRanks
        // Image queries: top-k captions per image.
        var pairs: [(Int, Int)] = []
        var imageCandidates: [[Int]] = []
        for i in 0..<images {
            let row = (0..<captions).sorted { scores[i * captions + $0] > scores[i * captions + $1] }.prefix(k)
            imageCandidates.append(Array(row))
            pairs += row.map { (i, $0) }
        }
        var textCandidates: [[Int]] = []
        for t in 0..<captions {
            let column = (0..<images).sorted { scores[$0 * captions + t] > scores[$1 * captions + t] }.prefix(k)
            textCandidates.append(Array(column))
            pairs += column.map { ($0, t) }
        }
        guard let logits = try matchScores(head, data: data, pairs: pairs) else {
            return RetrievalMetrics(imageRanks: imageRanks, textRanks: textRanks)
        }
        var offset = 0
        for i in 0..<images {
            let candidates = imageCandidates[i]
            let itm = Array(logits[offset..<(offset + candidates.count)])
            offset += candidates.count
            let order = candidates.indices.sorted { itm[$0] > itm[$1] }
            if let position = order.firstIndex(where: { data.captionImage[candidates[$0]] == i }) { imageRanks[i] = position + 1 }
        }
        for t in 0..<captions {
            let candidates = textCandidates[t]
            let itm = Array(logits[offset..<(offset + candidates.count)])
            offset += candidates.count
            let order = candidates.indices.sorted { itm[$0] > itm[$1] }
            if let position = order.firstIndex(where: { candidates[$0] == data.captionImage[t] }) { textRanks[t] = position + 1 }
        }
        return RetrievalMetrics(imageRanks: imageRanks, textRanks: textRanks)
    }
}
