import ArgumentParser
import Foundation
import StrataCache
import StrataPipeline

/// `strata demo`: builds a cache from the sample bundled in `sample/` with `pipelines/demo.yaml`.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a feature cache from the bundled COCO sample (pipelines/demo.yaml) and show what it holds.",
        discussion: """
            Encoders whose checkpoint is not at hand run on weights drawn from a fixed seed: the cache is \
            complete and deterministic, but its features are not those of trained models. Give real \
            checkpoints with --image-checkpoint and --text-checkpoint.
            """
    )

    @Option(name: .long, help: "The demo pipeline file (found from the working directory or the executable by default).")
    var pipeline: String?

    @OptionGroup var buildOptions: BuildRunOptions

    func run() throws {
        let file = try pipeline.map { URL(fileURLWithPath: $0) } ?? DemoCommand.locateDemoPipeline()
        let config = try PipelineConfig.load(contentsOf: file)
        print("strata demo: \(file.path)")
        print("  dataset: \(config.dataset.annotations.map(\.lastPathComponent).joined(separator: ", ")) (see sample/coco-sample/LICENSE.md)")
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
        let strata = CommandLine.arguments.first ?? "strata"
        print("next: \(strata) inspect \(summary.cache)")
        print("      \(strata) train heads/projector.yaml --cache \(summary.cache)   (a head on the pooled columns)")
        try BuildRunOptions.exit(for: summary)
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
