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

    @OptionGroup var location: CacheOption

    @Option(help: "A checkpoint written by `strata train` (repeat to compare heads).")
    var checkpoint: [String]

    @Option(help: "The split evaluated.")
    var split = "val"

    @Option(help: "Re-rank each query's top K candidates: by the ITM logit (cross-attention), or by the head's score over the ranking of --ranker (decoupled, pyramid); default: the head's config.")
    var rerank: Int?

    @Option(help: "An embedding head's checkpoint (projector) whose ranking token-level heads re-rank; without it they score every pair.")
    var ranker: String?

    @Option(help: "Write an SVG of the loss and Recall curves from each checkpoint's log.jsonl.")
    var report: String?

    func run() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("give at least one --checkpoint") }
        let reader = try location.reader()
        var rows: [(label: String, metrics: RetrievalMetrics)] = []
        var runs: [(label: String, records: [TrainingRecord])] = []
        let rankerHead = try ranker.map { try HeadCheckpoint.load(URL(fileURLWithPath: $0), for: reader) }
        if let rankerHead, !(rankerHead is EmbeddingHead) {
            throw ValidationError("--ranker \(ranker ?? ""): '\(rankerHead.config.name)' is a \(rankerHead.config.kind.rawValue) head, not an embedding head (projector, cross-attention)")
        }
        for path in checkpoint {
            let url = URL(fileURLWithPath: path)
            let head = try HeadCheckpoint.load(url, for: reader)
            let config = head.config
            let data = try PairData(reader: reader, split: split, imageColumns: config.imageColumns + (rankerHead?.config.imageColumns ?? []),
                                    textColumns: config.textColumns + (rankerHead?.config.textColumns ?? []),
                                    maxTextLength: config.train.maxTextLength)
            let started = Date()
            let k = rerank ?? config.eval.rerankTopK
            let evaluation = try RetrievalEvaluator.evaluation(head, data: data, rerankTopK: k,
                                                               ranker: head is EmbeddingHead ? nil : rankerHead)
            if let first = evaluation.rankerMetrics {
                if case let .rerank(k, ranker, itm) = evaluation.method {
                    rows.append((itm ? config.name : ranker, first))
                    rows.append((itm ? "\(config.name) +ITM@\(k)" : "\(ranker) → \(config.name)@\(k)", evaluation.metrics))
                }
            } else {
                rows.append((config.name, evaluation.metrics))
            }
            print("\(config.name): \(evaluation.method)")
            FileHandle.standardError.write(Data(String(format: "%@: %d images, %d captions, %.1f s, peak RSS %.0f MB\n", config.name,
                                                       data.imageCount, data.captionCount, Date().timeIntervalSince(started),
                                                       PeakMemory.residentBytes / 1e6).utf8))
            let log = url.deletingLastPathComponent().appendingPathComponent("log.jsonl")
            if FileManager.default.fileExists(atPath: log.path) { runs.append((config.name, try TrainingLog.read(log))) }
        }
        print("split '\(split)' of \(location.cache)")
        print(ComparisonTable.render(rows))
        if let report {
            try Data(CurveReport.svg(runs).utf8).write(to: URL(fileURLWithPath: report))
            print("wrote \(report)")
        }
    }
}
