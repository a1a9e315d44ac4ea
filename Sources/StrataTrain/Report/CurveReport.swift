import Foundation

/// An SVG report of training runs, three panels side by side: the mean training loss per epoch, and
/// the validation Recall@1/5/10 image→text and text→image per epoch. One colour per run, one dash
/// pattern per K; every axis is scaled to its data with round ticks, every epoch (or every few) is
/// ticked, and each run's best epoch (highest R-sum, the one `best.safetensors` keeps) is marked.
public enum CurveReport {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    /// Dash patterns of R@1, R@5 and R@10.
    static let dashes: [Int: String] = [1: "", 5: "7 4", 10: "2 3"]

    /// One panel's lines: per run, per line, the points `(epoch, value)`.
    struct Line {
        let run: Int
        let k: Int?
        let points: [(x: Double, y: Double)]
    }

    /// The SVG text for runs given as `(label, log records)`.
    public static func svg(_ runs: [(label: String, records: [TrainingRecord])]) -> String {
        let epochs = runs.map { $0.records.filter { $0.kind == "epoch" } }
        let best: [Int?] = epochs.map { records in
            records.filter { $0.validation != nil }.max { ($0.validation?.rsum ?? 0) < ($1.validation?.rsum ?? 0) }?.epoch
        }
        var loss: [Line] = []
        var imageToText: [Line] = []
        var textToImage: [Line] = []
        for (run, records) in epochs.enumerated() {
            loss.append(Line(run: run, k: nil, points: records.map { (Double($0.epoch + 1), $0.loss) }))
            for k in RetrievalMetrics.ks {
                imageToText.append(Line(run: run, k: k, points: records.compactMap { r in
                    r.validation.map { (Double(r.epoch + 1), 100 * ($0.imageToText[k] ?? 0)) }
                }))
                textToImage.append(Line(run: run, k: k, points: records.compactMap { r in
                    r.validation.map { (Double(r.epoch + 1), 100 * ($0.textToImage[k] ?? 0)) }
                }))
            }
        }
        let lastEpoch = epochs.flatMap { $0.map { $0.epoch + 1 } }.max() ?? 1
        var body = ""
        body += panel(title: "training loss (epoch mean)", lines: loss, x: 70, lastEpoch: lastEpoch, best: best)
        body += panel(title: "validation image → text R@K (%)", lines: imageToText, x: 400, lastEpoch: lastEpoch, best: best)
        body += panel(title: "validation text → image R@K (%)", lines: textToImage, x: 730, lastEpoch: lastEpoch, best: best)

        // Legend: runs by colour (with their best epoch), K by dash pattern.
        var y = 350
        for (index, run) in runs.enumerated() {
            let color = colors[index % colors.count]
            var label = escape(run.label)
            if let epoch = best[index], let metrics = epochs[index].first(where: { $0.epoch == epoch })?.validation {
                label += String(format: " — best epoch %d: i2t R@1 %.1f, t2i R@1 %.1f, R-sum %.1f", epoch + 1,
                                100 * (metrics.imageToText[1] ?? 0), 100 * (metrics.textToImage[1] ?? 0), metrics.rsum)
            }
            body += "<rect x=\"70\" y=\"\(y - 9)\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            body += "<text x=\"90\" y=\"\(y + 1)\" font-size=\"12\">\(label)</text>\n"
            y += 18
        }
        var legendX = 70
        for k in RetrievalMetrics.ks {
            body += "<line x1=\"\(legendX)\" y1=\"\(y - 4)\" x2=\"\(legendX + 30)\" y2=\"\(y - 4)\" stroke=\"#333\" stroke-width=\"2\"\(dash(k))/>"
            body += "<text x=\"\(legendX + 36)\" y=\"\(y)\" font-size=\"12\">R@\(k)</text>\n"
            legendX += 90
        }
        body += "<line x1=\"\(legendX)\" y1=\"\(y - 10)\" x2=\"\(legendX)\" y2=\"\(y + 2)\" stroke=\"#333\" stroke-dasharray=\"3 3\"/>"
        body += "<circle cx=\"\(legendX)\" cy=\"\(y - 4)\" r=\"3.5\" fill=\"white\" stroke=\"#333\" stroke-width=\"1.5\"/>"
        body += "<text x=\"\(legendX + 10)\" y=\"\(y)\" font-size=\"12\">best epoch (highest R-sum on validation)</text>\n"
        let height = y + 16
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1020\" height=\"\(height)\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }

    static func panel(title: String, lines: [Line], x: Int, lastEpoch: Int, best: [Int?]) -> String {
        let (width, height, top) = (260.0, 240.0, 40.0)
        let left = Double(x)
        let values = lines.flatMap { $0.points.map(\.y) }
        let yTicks = niceTicks(from: values.min() ?? 0, to: values.max() ?? 1)
        let (minY, maxY) = (yTicks.first ?? 0, yTicks.last ?? 1)
        let maxX = Double(max(lastEpoch, 1))
        func px(_ v: Double) -> Double { left + width * (maxX > 1 ? (v - 1) / (maxX - 1) : 0.5) }
        func py(_ v: Double) -> Double { top + height - height * (v - minY) / max(maxY - minY, 1e-12) }

        var svg = "<text x=\"\(x)\" y=\"24\" font-size=\"14\">\(escape(title))</text>\n"
        for value in yTicks {
            let y = py(value)
            svg += "<line x1=\"\(x)\" y1=\"\(f(y))\" x2=\"\(f(left + width))\" y2=\"\(f(y))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(x - 6)\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(label(value, ticks: yTicks))</text>\n"
        }
        for epoch in epochTicks(lastEpoch) {
            let ex = px(Double(epoch))
            svg += "<line x1=\"\(f(ex))\" y1=\"\(f(top + height))\" x2=\"\(f(ex))\" y2=\"\(f(top + height + 5))\" stroke=\"#666\"/>"
            svg += "<text x=\"\(f(ex))\" y=\"\(f(top + height + 17))\" font-size=\"10\" text-anchor=\"middle\">\(epoch)</text>\n"
        }
        svg += "<rect x=\"\(x)\" y=\"\(Int(top))\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"none\" stroke=\"#999\"/>\n"
        svg += "<text x=\"\(f(left + width / 2))\" y=\"\(Int(top + height) + 34)\" font-size=\"11\" text-anchor=\"middle\">epoch</text>\n"
        // Best epochs first, under the curves.
        for (run, epoch) in best.enumerated() {
            guard let epoch, lines.contains(where: { $0.run == run && !$0.points.isEmpty }) else { continue }
            let bx = px(Double(epoch + 1))
            svg += "<line x1=\"\(f(bx))\" y1=\"\(Int(top))\" x2=\"\(f(bx))\" y2=\"\(Int(top + height))\" stroke=\"\(colors[run % colors.count])\" "
                + "stroke-dasharray=\"3 3\" stroke-opacity=\"0.8\"/>"
            svg += "<text x=\"\(f(bx + 3))\" y=\"\(Int(top) + 11 + 11 * run)\" font-size=\"10\" fill=\"\(colors[run % colors.count])\">best \(epoch + 1)</text>\n"
        }
        for line in lines where !line.points.isEmpty {
            let color = colors[line.run % colors.count]
            let path = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(line.k.map(dash) ?? "") points=\"\(path)\"/>\n"
            if let epoch = best[line.run], let point = line.points.first(where: { $0.x == Double(epoch + 1) }) {
                svg += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3.5\" fill=\"white\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
            }
        }
        return svg
    }

    /// Round tick values (steps of 1, 2 or 5 times a power of ten) covering `[low, high]`, about five.
    static func niceTicks(from low: Double, to high: Double, count: Int = 5) -> [Double] {
        var (low, high) = (low, high)
        guard low.isFinite, high.isFinite else { return [0, 1] }
        if high - low < 1e-12 {
            let pad = max(abs(low) * 0.05, 1e-3)
            (low, high) = (low - pad, high + pad)
        }
        let step = niceStep((high - low) / Double(max(count - 1, 1)))
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// The smallest of 1, 2, 5 × 10^k at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let power = pow(10, (log10(raw)).rounded(.down))
        for factor in [1.0, 2, 5, 10] where factor * power >= raw * (1 - 1e-9) { return factor * power }
        return 10 * power
    }

    /// Epochs to label: every epoch up to 12, else every 2nd, 5th, 10th... (always from 1).
    static func epochTicks(_ lastEpoch: Int) -> [Int] {
        let step = lastEpoch <= 12 ? 1 : Int(niceStep(Double(lastEpoch) / 10))
        var ticks = [1]
        var next = step
        while next <= lastEpoch {
            if next > 1 { ticks.append(next) }
            next += step
        }
        return ticks
    }

    /// A tick label with as many decimals as the step needs.
    static func label(_ value: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", abs(value) < step * 1e-6 ? 0 : value)
    }

    static func dash(_ k: Int) -> String {
        guard let pattern = dashes[k], !pattern.isEmpty else { return "" }
        return " stroke-dasharray=\"\(pattern)\""
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
