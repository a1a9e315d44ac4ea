import Foundation

/// An SVG report of training runs: the mean training loss per epoch and the validation Recall@1
/// (image→text and text→image averaged) per epoch, one coloured line per run.
public enum CurveReport {
    /// The SVG text for runs given as `(label, log records)`.
    public static func svg(_ runs: [(label: String, records: [TrainingRecord])]) -> String {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
        let epochs = runs.map { $0.records.filter { $0.kind == "epoch" } }
        let loss = epochs.map { $0.map { (Double($0.epoch + 1), $0.loss) } }
        let recall = epochs.map { records in
            records.compactMap { r in r.validation.map { (Double(r.epoch + 1), 50 * (($0.imageToText[1] ?? 0) + ($0.textToImage[1] ?? 0))) } }
        }
        var body = ""
        body += panel(title: "training loss (epoch mean)", series: loss, x: 60, colors: colors, yFloor: 0, yCeiling: nil)
        body += panel(title: "validation R@1 (%, mean of i2t and t2i)", series: recall, x: 500, colors: colors, yFloor: 0, yCeiling: 100)
        for (index, run) in runs.enumerated() {
            let y = 330 + 18 * index
            body += "<rect x=\"60\" y=\"\(y - 9)\" width=\"12\" height=\"12\" fill=\"\(colors[index % colors.count])\"/>"
            body += "<text x=\"80\" y=\"\(y + 1)\" font-size=\"12\">\(escape(run.label))</text>\n"
        }
        let height = 340 + 18 * runs.count
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"\(height)\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }

    static func panel(title: String, series: [[(Double, Double)]], x: Int, colors: [String], yFloor: Double, yCeiling: Double?) -> String {
        let (width, height, top) = (360.0, 240.0, 40.0)
        let points = series.flatMap { $0 }
        let maxX = max(points.map(\.0).max() ?? 1, 1)
        let maxY = yCeiling ?? max((points.map(\.1).max() ?? 1) * 1.05, 1e-6)
        let minY = min(yFloor, points.map(\.1).min() ?? yFloor)
        func px(_ v: Double) -> Double { Double(x) + width * (maxX > 1 ? (v - 1) / (maxX - 1) : 0.5) }
        func py(_ v: Double) -> Double { top + height - height * (v - minY) / max(maxY - minY, 1e-9) }
        var svg = "<text x=\"\(x)\" y=\"24\" font-size=\"14\">\(escape(title))</text>\n"
        svg += "<rect x=\"\(x)\" y=\"\(Int(top))\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"none\" stroke=\"#999\"/>\n"
        for tick in 0...4 {
            let value = minY + (maxY - minY) * Double(tick) / 4
            let y = py(value)
            svg += "<line x1=\"\(x)\" y1=\"\(f(y))\" x2=\"\(x + Int(width))\" y2=\"\(f(y))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(x - 6)\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%.3g", value))</text>\n"
        }
        svg += "<text x=\"\(x + Int(width) / 2)\" y=\"\(Int(top + height) + 28)\" font-size=\"11\" text-anchor=\"middle\">epoch (1–\(Int(maxX)))</text>\n"
        for (index, line) in series.enumerated() where !line.isEmpty {
            let path = line.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colors[index % colors.count])\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        }
        return svg
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
