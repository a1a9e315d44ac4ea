import Foundation

/// Image→text and text→image retrieval quality on one split, COCO style: an image query is answered
/// when any of its captions ranks within the top K; a caption query when its image does.
public struct RetrievalMetrics: Codable, Equatable, Sendable {
    /// Image→text Recall@1, @5, @10 (fractions in [0, 1]).
    public var imageToText: [Int: Double]
    /// Text→image Recall@1, @5, @10.
    public var textToImage: [Int: Double]
    /// Mean over image queries of the best rank (1-based) of one of its captions.
    public var imageToTextMeanRank: Double
    /// Mean over caption queries of the rank of its image.
    public var textToImageMeanRank: Double
    /// Images and captions evaluated.
    public var images: Int
    public var captions: Int

    /// The K values reported.
    public static let ks = [1, 5, 10]

    /// Sum of the six recalls in points (0–600), the usual single number for model selection.
    public var rsum: Double {
        RetrievalMetrics.ks.reduce(0) { $0 + 100 * ((imageToText[$1] ?? 0) + (textToImage[$1] ?? 0)) }
    }

    /// Metrics from the ranks of the correct answers.
    public init(imageRanks: [Int], textRanks: [Int]) {
        func recall(_ ranks: [Int], _ k: Int) -> Double {
            ranks.isEmpty ? 0 : Double(ranks.filter { $0 <= k }.count) / Double(ranks.count)
        }
        func mean(_ ranks: [Int]) -> Double { ranks.isEmpty ? 0 : Double(ranks.reduce(0, +)) / Double(ranks.count) }
        imageToText = Dictionary(uniqueKeysWithValues: RetrievalMetrics.ks.map { ($0, recall(imageRanks, $0)) })
        textToImage = Dictionary(uniqueKeysWithValues: RetrievalMetrics.ks.map { ($0, recall(textRanks, $0)) })
        imageToTextMeanRank = mean(imageRanks)
        textToImageMeanRank = mean(textRanks)
        images = imageRanks.count
        captions = textRanks.count
    }

    /// Ranks of the correct answers in a score matrix `scores` (`images × captions`, row-major), where
    /// caption `t` belongs to image `captionImage[t]`. Ties count against the query (rank = 1 + number
    /// of candidates scoring at least as high, the correct one excluded).
    public static func ranks(scores: [Float], images: Int, captionImage: [Int]) -> (imageRanks: [Int], textRanks: [Int]) {
        let captions = captionImage.count
        // An image's best-placed caption is its highest-scored own one: its rank counts the other images'
        // captions scored at least as high, one pass over the image's row.
        var bestOwn = [Float](repeating: -.infinity, count: images)
        var hasCaption = [Bool](repeating: false, count: images)
        for t in 0..<captions {
            let i = captionImage[t]
            bestOwn[i] = Swift.max(bestOwn[i], scores[i * captions + t])
            hasCaption[i] = true
        }
        var imageRanks = [Int](repeating: captions, count: images)
        for i in 0..<images where hasCaption[i] {
            let row = i * captions
            var above = 0
            for u in 0..<captions where captionImage[u] != i && scores[row + u] >= bestOwn[i] { above += 1 }
            imageRanks[i] = above + 1
        }
        var textRanks = [Int](repeating: 0, count: captions)
        for t in 0..<captions {
            let own = scores[captionImage[t] * captions + t]
            var above = 0
            for i in 0..<images where i != captionImage[t] && scores[i * captions + t] >= own { above += 1 }
            textRanks[t] = above + 1
        }
        return (imageRanks, textRanks)
    }

    /// Metrics of a score matrix (see `ranks`).
    public init(scores: [Float], images: Int, captionImage: [Int]) {
        let (imageRanks, textRanks) = RetrievalMetrics.ranks(scores: scores, images: images, captionImage: captionImage)
        self.init(imageRanks: imageRanks, textRanks: textRanks)
    }

    /// A one-line summary in percent.
    public var summary: String {
        func p(_ v: Double?) -> String { String(format: "%.1f", 100 * (v ?? 0)) }
        return "i2t R@1 \(p(imageToText[1])) R@5 \(p(imageToText[5])) R@10 \(p(imageToText[10])) · "
            + "t2i R@1 \(p(textToImage[1])) R@5 \(p(textToImage[5])) R@10 \(p(textToImage[10])) · "
            + String(format: "mean rank %.1f / %.1f", imageToTextMeanRank, textToImageMeanRank)
    }
}
