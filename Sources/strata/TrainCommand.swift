import ArgumentParser
import Foundation
import StrataCache
import StrataTrain

/// `strata train HEAD.yaml --cache PATH [--out DIR]`: trains a fusion or alignment head from a cache.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a head (heads/*.yaml) on a feature cache; writes best.safetensors, log.jsonl and report.svg."
    )

    @Argument(help: "The head configuration (YAML).")
    var head: String

    @OptionGroup var location: CacheOption

    @Option(help: "Output directory (default: runs/<head name>).")
    var out: String?

    @Option(help: "Override the configured number of epochs.")
    var epochs: Int?

    @Option(help: "Override the configured seed.")
    var seed: UInt64?

    @Option(help: "Threads reading batches from the cache.")
    var loaderThreads: Int?

    @Option(help: "Batches read ahead of training (with the batch size, this bounds the loader's memory).")
    var prefetch: Int?

    func run() throws {
        var config = try HeadConfig.load(path: head)
        if let epochs { config.train.epochs = epochs }
        if let seed { config.train.seed = seed }
        try config.validate(file: head)
        let directory = URL(fileURLWithPath: out ?? "runs/\(config.name)")
        var options = LoaderOptions()
        if let loaderThreads { options.threads = loaderThreads }
        if let prefetch { options.prefetch = prefetch }
        let trainer = try HeadTrainer(config: config, cachePath: location.cache, outputDirectory: directory, loaderOptions: options)
        print("\(config.name): \(trainer.train.imageCount) training images / \(trainer.train.captionCount) captions, "
              + "\(trainer.validation.imageCount) validation images / \(trainer.validation.captionCount) captions "
              + "(split '\(trainer.validation.split)'), \(trainer.head.parameters.reduce(0) { $0 + $1.value.count }) parameters")
        if let note = trainer.validationNote { print("note: \(note)") }
        trainer.progress = { print($0) }
        let result = try trainer.run()
        let report = directory.appendingPathComponent("report.svg")
        try Data(CurveReport.svg([(config.name, result.records)]).utf8).write(to: report)
        print(String(format: "best epoch %d, %.1f steps/s, peak RSS %.0f MB", result.bestEpoch + 1, result.stepsPerSecond,
                     PeakMemory.residentBytes / 1e6))
        print(ComparisonTable.render([(config.name, result.best)]))
        print("wrote \(result.checkpoint?.path ?? ""), \(directory.appendingPathComponent("log.jsonl").path), \(report.path)")
    }
}
