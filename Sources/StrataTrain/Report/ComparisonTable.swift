import Foundation

/// A plain-text table comparing heads by retrieval metrics (percentages, mean ranks).
public enum ComparisonTable {
    /// One row per `(label, metrics)`.
    public static func render(_ rows: [(label: String, metrics: RetrievalMetrics)]) -> String {
        let header = ["head", "i2t R@1", "R@5", "R@10", "t2i R@1", "R@5", "R@10", "rsum", "i2t mean rank", "t2i mean rank"]
        var lines = [header]
        for (label, m) in rows {
            func p(_ v: Double?) -> String { String(format: "%.1f", 100 * (v ?? 0)) }
            lines.append([label, p(m.imageToText[1]), p(m.imageToText[5]), p(m.imageToText[10]),
                          p(m.textToImage[1]), p(m.textToImage[5]), p(m.textToImage[10]),
                          String(format: "%.1f", m.rsum), String(format: "%.1f", m.imageToTextMeanRank),
                          String(format: "%.1f", m.textToImageMeanRank)])
        }
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.enumerated().map { index, row in
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            let line = cells.joined(separator: "  ")
            return index == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }
}
