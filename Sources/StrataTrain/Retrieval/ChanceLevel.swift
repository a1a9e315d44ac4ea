import Foundation

extension RetrievalMetrics {
    /// The Recall@K a scorer that ranks candidates at random reaches in expectation, for images whose
    /// captions are `captionImage` (caption `t` belongs to image `captionImage[t]`), over `images` images.
    ///
    /// Text→image: `K / images`. Image→text, for an image with `p` of the `n` captions: the chance that
    /// one of them is among `K` drawn without replacement, `1 - Π_{j<K} (n - p - j) / (n - j)`; averaged
    /// over the images. Mean ranks are those of a random order: `(images + 1) / 2` for a caption, and
    /// `(n + 1) / (p + 1)` (the expected best of `p` places among `n`) for an image.
    public static func chance(images: Int, captionImage: [Int]) -> RetrievalMetrics {
        let n = captionImage.count
        var perImage = [Int](repeating: 0, count: images)
        for image in captionImage where image >= 0 && image < images { perImage[image] += 1 }
        let queried = perImage.filter { $0 > 0 }
        func imageRecall(_ k: Int) -> Double {
            guard !queried.isEmpty else { return 0 }
            let total = queried.reduce(0.0) { sum, own in
                var miss = 1.0
                for j in 0..<min(k, n) { miss *= max(0, Double(n - own - j)) / Double(n - j) }
                return sum + (1 - miss)
            }
            return total / Double(queried.count)
        }
        var metrics = RetrievalMetrics(imageRanks: [], textRanks: [])
        for k in ks {
            metrics.imageToText[k] = imageRecall(k)
            metrics.textToImage[k] = images > 0 ? min(1, Double(k) / Double(images)) : 0
        }
        metrics.imageToTextMeanRank = queried.isEmpty ? 0
            : queried.reduce(0.0) { $0 + Double(n + 1) / Double($1 + 1) } / Double(queried.count)
        metrics.textToImageMeanRank = Double(images + 1) / 2
        metrics.images = queried.count
        metrics.captions = n
        return metrics
    }
}
