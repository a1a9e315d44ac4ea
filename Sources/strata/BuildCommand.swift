import ArgumentParser
import Foundation
import StrataPipeline

/// `strata build`: runs a pipeline file and writes (or resumes) its feature cache.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a feature cache from a pipeline file; rerun the same command to resume an interrupted build."
    )

    @Argument(help: "The pipeline file (YAML), e.g. pipelines/coco-resnet50-bert.yaml.")
    var pipeline: String

    @OptionGroup var buildOptions: BuildRunOptions

    func run() throws {
        let config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: pipeline))
        let summary = try buildOptions.build(config, seedMissing: false)
        print(summary.report)
        if summary.stoppedEarly { throw ExitCode(130) }
    }
}

/// Options `build` and `demo` share, and the signal handling and progress set-up of a build.
struct BuildRunOptions: ParsableArguments {
    @Option(name: .long, help: "Write the cache here instead of the pipeline's output.cache.")
    var cache: String?

    @Option(name: .long, help: "Use this image encoder checkpoint instead of the pipeline's.")
    var imageCheckpoint: String?

    @Option(name: .long, help: "Use this text encoder checkpoint folder instead of the pipeline's.")
    var textCheckpoint: String?

    @Option(name: .long, help: "Worker counts over the pipeline's, e.g. decode=3,image_encoder=2 (they never change what is written).")
    var workers: String?

    @Option(name: .long, help: "Progress display: auto (a bar on a terminal, log lines otherwise), bar, log or none.")
    var progress: String = "auto"

    func validate() throws {
        guard ["auto", "bar", "log", "none"].contains(progress) else {
            throw ValidationError("--progress must be auto, bar, log or none, not '\(progress)'")
        }
    }

    /// Runs the build; the first Ctrl-C (or SIGTERM) stops after the transaction being written, the
    /// second exits at once (the cache stays consistent either way).
    func build(_ config: PipelineConfig, seedMissing: Bool) throws -> BuildSummary {
        var options = BuildOptions()
        options.cache = cache.map { URL(fileURLWithPath: $0) }
        options.imageCheckpoint = imageCheckpoint.map { URL(fileURLWithPath: $0) }
        options.textCheckpoint = textCheckpoint.map { URL(fileURLWithPath: $0) }
        options.seedMissingCheckpoints = seedMissing
        if let workers {
            var counts = config.workers
            try counts.set(workers)
            options.workers = counts
        }
        switch progress {
        case "bar": options.progress = .bar
        case "log": options.progress = .log
        case "none": options.progress = nil
        default: options.progress = BuildProgress.standardErrorIsTerminal ? .bar : .log
        }
        let stop = options.stop
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stop.isRaised { Foundation.exit(130) }
                FileHandle.standardError.write(Data("\nstopping after the current transaction (press Ctrl-C again to quit now)\n".utf8))
                stop.raise()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        return try BuildRunner(config: config, provider: .standard, options: options).run()
    }
}
