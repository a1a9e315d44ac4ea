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

    @Flag(name: .long, help: "Print the build's stats.json (counts, failures by cause, stage times, versions) instead of the report.")
    var json = false

    @Option(name: .long, help: "Build part I of N (I from 0) into its own cache, CACHE.parts/I-of-N; strata merge joins the parts. Under a Slurm job array it defaults to the array task.")
    var part: String?

    @Option(name: .long, help: "With a part: write it here instead of CACHE.parts/I-of-N.")
    var partCache: String?

    func run() throws {
        let config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: pipeline))
        var part = try part.map(BuildPart.init(parsing:))
        if part == nil, let task = try BuildPart.slurmArrayTask(ProcessInfo.processInfo.environment) {
            FileHandle.standardError.write(Data("building part \(task) (Slurm array task \(ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"] ?? "?"))\n".utf8))
            part = task
        }
        if partCache != nil, part == nil { throw ValidationError("--part-cache needs --part I/N (or a Slurm array task)") }
        let summary = try buildOptions.build(config, seedMissing: false, part: part, partCache: partCache)
        if json {
            print(String(decoding: try summary.statsJSON(), as: UTF8.self))
        } else {
            print(summary.report)
        }
        try BuildRunOptions.exit(for: summary, command: Self.self)
    }
}

/// Options `build` and `demo` share, and the signal handling and progress set-up of a build.
struct BuildRunOptions: ParsableArguments {
    @Option(name: .long, help: "Write the cache here instead of the pipeline's output.cache.")
    var cache: String?

    @Option(name: .long, help: "Use this image encoder checkpoint instead of the pipeline's: a path, or a cached hub name (torchvision/resnet50, google/vit-base-patch16-224).")
    var imageCheckpoint: String?

    @Option(name: .long, help: "Use this text encoder checkpoint instead of the pipeline's: a folder, or a cached hub name (bert-base-uncased).")
    var textCheckpoint: String?

    @Option(name: .long, help: "Worker counts over the pipeline's, e.g. decode=3,image_encoder=2 (they never change what is written).")
    var workers: String?

    @Option(name: .long, help: "Progress display: auto (a bar on a terminal, log lines otherwise), bar, log or none.")
    var progress: ProgressChoice = .auto

    @Option(name: .long, help: "Fail the build (exit 3, after committing what was written) when more than N inputs, or P% of them, failed; by default only when every image failed.")
    var maxFailures: String?

    func validate() throws {
        if let maxFailures, (try? FailureLimit(parsing: maxFailures)) == nil {
            throw ValidationError("--max-failures must be a count N or a percentage P%, not '\(maxFailures)'")
        }
    }

    /// Exit status 130 for a stopped build, 3 when too many inputs failed (the cache keeps what was written).
    static func exit(for summary: BuildSummary, command: ParsableCommand.Type) throws {
        if let exceeded = summary.failureLimitExceeded {
            CommandFailure.report("build failed: \(exceeded); see \(summary.cache)/\(BuildRunner.statsFileName)", command: command.configuration.commandName ?? "build")
            throw ExitCode(3)
        }
        if summary.stoppedEarly { throw ExitCode(130) }
    }

    /// Runs the build; the first Ctrl-C (or SIGTERM) stops after the transaction being written, the
    /// second exits at once (the cache stays consistent either way).
    func build(_ config: PipelineConfig, seedMissing: Bool, part: BuildPart? = nil, partCache: String? = nil) throws -> BuildSummary {
        var options = BuildOptions()
        options.cache = cache.map { URL(fileURLWithPath: $0) }
        options.part = part
        options.partCache = partCache.map { URL(fileURLWithPath: $0) }
        options.imageCheckpoint = try imageCheckpoint.map(CheckpointArgument.url)
        options.textCheckpoint = try textCheckpoint.map(CheckpointArgument.url)
        options.seedMissingCheckpoints = seedMissing
        if let maxFailures { options.maxFailures = try FailureLimit(parsing: maxFailures) }
        if let workers {
            var counts = config.workers
            try counts.set(workers)
            options.workers = counts
        }
        options.progress = progress.style
        let sources = BuildRunOptions.stopOnSignals(options.stop)
        defer { sources.forEach { $0.cancel() } }
        return try BuildRunner(config: config, provider: .standard, options: options).run()
    }

    /// Raises `stop` on the first SIGINT or SIGTERM (the writer stops after the transaction being
    /// written) and exits at once on the second. Cancel the returned sources when done.
    static func stopOnSignals(_ stop: StopFlag) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
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
    }
}
