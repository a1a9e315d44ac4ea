import ArgumentParser
import Foundation
import StrataCache
import StrataTrain

/// `strata eval --cache PATH --checkpoint A [--checkpoint B …] [--split val]`: Recall@K table of heads.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate trained heads by image-text retrieval (Recall@1/5/10, mean rank) and compare them."
    )

    @Option(help: "The feature cache directory.")
    var cache: String

    @Option(help: "A checkpoint written by `strata train` (repeat to compare heads).")
    var checkpoint: [String]

    @Option(help: "The split evaluated.")
    var split = "val"

    @Option(help: "Re-rank this many top candidates by the ITM score (heads that have one); default: the head's config.")
    var rerank: Int?

    @Option(help: "Write an SVG of the loss and Recall curves from each checkpoint's log.jsonl.")
    var report: String?

    func run() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("give at least one --checkpoint") }
        let reader = try CacheReader(path: cache)
        var rows: [(label: String, metrics: RetrievalMetrics)] = []
        var runs: [(label: String, records: [TrainingRecord])] = []
        for path in checkpoint {
            let url = URL(fileURLWithPath: path)
            let head = try HeadCheckpoint.load(url, for: reader)
            let config = head.config
            let data = try PairData(reader: reader, split: split, imageColumns: config.imageColumns,
                                    textColumns: config.textColumns, maxTextLength: config.train.maxTextLength)
            let started = Date()
            let k = rerank ?? config.eval.rerankTopK
            if k > 0, config.kind == .crossAttention {
                let metrics = try RetrievalEvaluator.evaluateBothWays(head, data: data, rerankTopK: k)
                rows.append((config.name, metrics.scores))
                rows.append(("\(config.name) +ITM@\(k)", metrics.reranked))
            } else {
                rows.append((config.name, try RetrievalEvaluator.evaluate(head, data: data)))
            }
            FileHandle.standardError.write(Data(String(format: "%@: %d images, %d captions, %.1f s\n", config.name,
                                                       data.imageCount, data.captionCount, Date().timeIntervalSince(started)).utf8))
            let log = url.deletingLastPathComponent().appendingPathComponent("log.jsonl")
            if FileManager.default.fileExists(atPath: log.path) { runs.append((config.name, try TrainingLog.read(log))) }
        }
        print("split '\(split)' of \(cache)")
        print(ComparisonTable.render(rows))
        if let report {
            try Data(CurveReport.svg(runs).utf8).write(to: URL(fileURLWithPath: report))
            print("wrote \(report)")
        }
    }
}
