import Foundation
import StrataCache
import StrataImage
import StrataModels
import StrataTensor
import StrataText

/// How a build runs, beyond what its pipeline file says.
public struct BuildOptions: Sendable {
    /// Writes here instead of the pipeline's `output.cache`.
    public var cache: URL?
    /// Replaces the image encoder's checkpoint.
    public var imageCheckpoint: URL?
    /// Replaces the text encoder's checkpoint.
    public var textCheckpoint: URL?
    /// Replaces the pipeline's `workers` section (worker counts never change what is written).
    public var workers: PipelineConfig.Workers?
    /// Draws weights from the encoder's seed when its checkpoint does not exist (instead of failing).
    public var seedMissingCheckpoints = false
    /// A progress bar on a terminal, log lines otherwise; nil prints no progress.
    public var progress: ProgressStyle? = .log
    /// Raised to stop after the transaction being written.
    public var stop = StopFlag()
    /// Where progress and notices go (standard error by default).
    public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    /// The failures a build accepts before it counts as failed (`--max-failures`).
    public var maxFailures: FailureLimit = .everyImage
    /// Writes `stats.json` into the cache directory at the end of the run.
    public var writeStats = true
    /// Builds only this part of the plan's shards, into its own part cache (see `BuildPart`).
    public var part: BuildPart?
    /// Where a part is written; by default `CACHE.parts/I-of-N` beside the cache.
    public var partCache: URL?
    /// Called on the writer's thread after each transaction commits, with the number of shards now
    /// committed (e.g. to raise `stop` after some shards).
    public var afterCommit: (@Sendable (Int) -> Void)?

    /// How progress is shown.
    public enum ProgressStyle: Sendable {
        /// A bar redrawn in place.
        case bar
        /// A `progress key=value` line every few seconds.
        case log
    }

    /// Default options.
    public init() {}
}

/// Runs a pipeline: reads the dataset, decodes and tokenizes in worker stages, encodes, and writes
/// one cache transaction per shard, resuming after the shards a previous run committed.
public final class BuildRunner {
    private let config: PipelineConfig
    private let provider: EncoderProvider
    private let options: BuildOptions

    /// A runner for `config` with encoders from `provider`.
    public init(config: PipelineConfig, provider: EncoderProvider, options: BuildOptions = BuildOptions()) {
        var config = config
        if let workers = options.workers { config.workers = workers }
        self.config = config
        self.provider = provider
        self.options = options
    }

    /// The cache directory this build writes: the cache, or the part's own cache when building a part.
    public var cacheURL: URL {
        let cache = options.cache ?? config.cache
        guard let part = options.part else { return cache }
        return options.partCache ?? PartMerge.partFolder(of: cache, index: part.index, count: part.count)
    }

    /// Builds (or resumes) the cache and returns what was done.
    public func run() throws -> BuildSummary {
        let started = DispatchTime.now().uptimeNanoseconds
        // Inputs are checked before any encoder loads: a wrong path fails now, naming its key.
        try Preflight.checkInputs(config, options: options)
        var plan = try BuildPlan.make(config)
        try Preflight.checkImageSample(plan, config: config)
        var partRecord: Manifest.Part?
        if let part = options.part { (plan, partRecord) = plan.part(part) }
        // Seeded weights are generated once per model, seed and sizes, and shared by later builds.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("strata-seeded")

        var imageEncoder = config.imageEncoder
        if let override = options.imageCheckpoint { imageEncoder?.checkpoint = override }
        var textEncoder = config.textEncoder
        if let override = options.textCheckpoint { textEncoder?.checkpoint = override }

        let beforeImage = MemoryBudget.residentBytes()
        let imageSide = try imageEncoder.map { try ImageSide(encoder: $0, config: config, options: options, provider: provider, scratch: scratch) }
        let beforeText = MemoryBudget.residentBytes()
        let vocabulary = BuildRunner.tokenizerLocation(config.tokenizer.path, textCheckpoint: options.textCheckpoint)
        let tokenizer = try vocabulary.map(BuildRunner.loadTokenizer)
        let textSide = try textEncoder.map { encoder -> TextSide in
            guard let tokenizer else { throw PipelineError.buildFailed(reason: "encoders.text needs a tokenizer (tokenizer.path or a checkpoint folder with vocab.txt)") }
            return try TextSide(encoder: encoder, tokenizer: tokenizer, options: options, provider: provider, scratch: scratch)
        }
        try MemoryBudget.check(config: config, image: imageSide == nil ? nil : beforeImage.flatMap { a in beforeText.map { $0 - a } },
                               text: textSide == nil ? nil : beforeText.flatMap { a in MemoryBudget.residentBytes().map { $0 - a } })
        for side in [imageSide?.weights, textSide?.weights].compactMap({ $0 }) where side.seeded {
            options.log("note: \(side.manifestEntry.name) has no checkpoint at hand; its weights are drawn from seed "
                        + "\(side.manifestEntry.checkpoint.prefix(while: { $0 != " " }).dropFirst("seeded:".count)): features are "
                        + "deterministic but not those of a trained model\n")
        }

        var manifest = Manifest(pipeline: config.sourceText,
                                encoders: [imageSide?.weights.manifestEntry, textSide?.weights.manifestEntry].compactMap { $0 },
                                preprocessing: imageSide.map { _ in Manifest.Preprocessing(config.preprocess) },
                                tokenizer: try tokenizer.map { try BuildRunner.tokenizerEntry($0, at: vocabulary, maxLength: config.tokenizer.maxLength) },
                                columns: (imageSide?.levels ?? []).map(\.column) + (textSide?.levels ?? []).map(\.column))
        manifest.part = partRecord
        // The cache is opened once: what it holds decides how the build resumes (BuildResume).
        var retryWith: String?
        let writer = try CacheWriter(path: cacheURL.path) { stored in
            let decision = try BuildResume.decide(stored: stored, building: manifest, config: config, cache: cacheURL)
            retryWith = decision.retryWith
            return decision.manifest
        }
        defer { writer.close() }
        let firstShard = writer.committedBatches
        let alreadyImages = plan.shards.prefix(firstShard).reduce(0) { $0 + $1.images.count }
        let alreadyCaptions = plan.shards.prefix(firstShard).reduce(0) { $0 + $1.captions.count }

        let stages = StageGraph(plan: plan, config: config, options: options, imageSide: imageSide, textSide: textSide,
                                 tokenizer: tokenizer, firstShard: firstShard)
        var progress: BuildProgress?
        if let style = options.progress, firstShard < plan.shards.count {
            progress = BuildProgress(totals: [(name: "images", total: plan.imageCount, alreadyDone: alreadyImages),
                                              (name: "captions", total: plan.captionCount, alreadyDone: alreadyCaptions)],
                                     interactive: style == .bar, write: options.log)
            progress?.start()
        }
        let outcome = try stages.run(writer: writer, progress: progress)
        progress?.stop()

        let failures = try writer.failures()
        var summary = BuildSummary(cache: cacheURL.path, plan: plan, firstShard: firstShard, committedShards: outcome.committedShards,
                                   stoppedEarly: outcome.committedShards < plan.shards.count,
                                   seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9,
                                   stages: stages.metrics, failures: failures, manifest: writer.manifest,
                                   seededEncoders: [imageSide?.weights, textSide?.weights].compactMap { $0 }.filter(\.seeded).map(\.manifestEntry.name),
                                   problems: plan.problems)
        summary.failureLimit = options.maxFailures
        if let fixed = retryWith, !summary.stoppedEarly {
            // The image folder was fixed: the images that failed are encoded again.
            let failed = Set(failures.filter { $0.modality == .image }.map(\.id))
            let images = plan.shards.flatMap(\.images).filter { failed.contains($0.id) }
            let perShard = max(1, config.batch.commitEvery)
            let retryPlan = BuildPlan(shards: stride(from: 0, to: images.count, by: perShard).enumerated().map { index, start in
                BuildPlan.Shard(index: index, images: Array(images[start..<min(start + perShard, images.count)]), captions: [])
            }, problems: [])
            let retry = StageGraph(plan: retryPlan, config: config, options: options, imageSide: imageSide, textSide: textSide,
                                   tokenizer: tokenizer, firstShard: 0, retryingWith: fixed)
            _ = try retry.run(writer: writer, progress: nil)
            summary.failures = try writer.failures()
            summary.manifest = writer.manifest
            let failedAgain = summary.failures.filter { $0.modality == .image && failed.contains($0.id) }.count
            summary.retried = (images.count, failedAgain)
        }
        if options.writeStats { try writeStats(summary) }
        return summary
    }

    /// `stats.json` in the cache directory, written whole under a temporary name and renamed.
    private func writeStats(_ summary: BuildSummary) throws {
        let target = cacheURL.appendingPathComponent(BuildRunner.statsFileName)
        do {
            try summary.statsJSON().write(to: target, options: .atomic)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError.buildFailed(reason: "cannot write \(target.path): \(error.localizedDescription)")
        }
    }

    /// The name of the build's machine-readable result in the cache directory.
    public static let statsFileName = "stats.json"

    /// A tokenizer from a checkpoint folder or a `vocab.txt` file.
    static func loadTokenizer(_ url: URL) throws -> BertTokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PipelineError.buildFailed(reason: "tokenizer \(url.path) does not exist")
        }
        do {
            if isDirectory.boolValue { return try BertTokenizer(directory: url) }
            return try BertTokenizer(vocabulary: try Vocabulary.load(vocabTxt: url), source: url.path)
        } catch {
            throw PipelineError.buildFailed(reason: "\(error)")
        }
    }

    /// Where the tokenizer comes from: a `--text-checkpoint` folder holding `tokenizer.json` or
    /// `vocab.txt` brings its own (the vocabulary its weights were trained with); otherwise the
    /// pipeline's `tokenizer.path`.
    static func tokenizerLocation(_ configured: URL?, textCheckpoint: URL?) -> URL? {
        var isDirectory: ObjCBool = false
        if let folder = textCheckpoint, FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory),
           isDirectory.boolValue,
           ["tokenizer.json", "vocab.txt"].contains(where: { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
            return folder
        }
        return configured
    }

    /// The manifest's record of the tokenizer loaded from `location`, with the sha256 of the vocabulary file that ran.
    static func tokenizerEntry(_ tokenizer: BertTokenizer, at location: URL?, maxLength: Int) throws -> Manifest.Tokenizer {
        var vocabulary = location ?? URL(fileURLWithPath: "/")
        for name in ["tokenizer.json", "vocab.txt"] where FileManager.default.fileExists(atPath: vocabulary.appendingPathComponent(name).path) {
            vocabulary = vocabulary.appendingPathComponent(name)
            break
        }
        return Manifest.Tokenizer(kind: "bert-wordpiece", vocabSHA256: try SHA256.hex(ofFileAt: vocabulary),
                                  vocabSize: tokenizer.vocabulary.count, lowercase: tokenizer.configuration.normalizer.lowercase,
                                  maxLength: maxLength)
    }
}

/// The image encoder of a build: its weights, its levels and a way to make one encoder per worker.
struct ImageSide {
    let weights: ResolvedWeights
    let levels: [PlannedLevel]
    let preprocess: PreprocessOptions
    /// The size every preprocessed image comes out at, which the batch is made of.
    let inputSize: ImageSize
    /// The encoder the probe loaded, handed to the first worker.
    let first: any ImageEncoder
    let load: () throws -> any ImageEncoder

    init(encoder: PipelineConfig.Encoder, config: PipelineConfig, options: BuildOptions, provider: EncoderProvider, scratch: URL) throws {
        weights = try ResolvedWeights.resolve(encoder, seedMissing: options.seedMissingCheckpoints, scratch: scratch)
        preprocess = config.preprocess
        guard let size = preprocess.outputSize else {
            throw PipelineError.buildFailed(reason: "preprocess: images must come out one size to be batched; set crop, or resize to [height, width]")
        }
        inputSize = size
        let checkpoint = weights.checkpoint
        let load = { () throws -> any ImageEncoder in try provider.image(encoder.model, checkpoint) }
        self.load = load
        first = try load()
        let pyramid = LevelMapping.pyramidLevels(encoder.levels)
        try first.validate(levels: pyramid)
        let probe = try first.encode(pixels: Tensor(zeros: [1, 3, inputSize.height, inputSize.width]), levels: pyramid)
        levels = try LevelMapping.plan(encoder.levels, pyramid: pyramid, modality: .image, model: encoder.model,
                                       sampleShapes: probe.map { Array($0.shape.dropFirst()) },
                                       perToken: probe.map { _ in false })
    }
}

/// The text encoder of a build.
struct TextSide {
    let weights: ResolvedWeights
    let levels: [PlannedLevel]
    let first: any TextEncoder
    let load: () throws -> any TextEncoder

    init(encoder: PipelineConfig.Encoder, tokenizer: BertTokenizer, options: BuildOptions, provider: EncoderProvider, scratch: URL) throws {
        weights = try ResolvedWeights.resolve(encoder, seedMissing: options.seedMissingCheckpoints, scratch: scratch)
        let checkpoint = weights.checkpoint
        let load = { () throws -> any TextEncoder in try provider.text(encoder.model, checkpoint) }
        self.load = load
        first = try load()
        let pyramid = LevelMapping.pyramidLevels(encoder.levels)
        try first.validate(levels: pyramid)
        let ids = try Tensor(shape: [1, 2], int32s: [tokenizer.classifierId, tokenizer.separatorId])
        let mask = try Tensor(shape: [1, 2], int32s: [1, 1])
        let probe = try first.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: Tensor(zeros: [1, 2], dtype: .i32), levels: pyramid)
        // Token levels come back [1, L, H]; reduced levels and the pooler [1, H].
        levels = try LevelMapping.plan(encoder.levels, pyramid: pyramid, modality: .text, model: encoder.model,
                                       sampleShapes: probe.map { $0.rank == 3 ? [$0.shape[2]] : Array($0.shape.dropFirst()) },
                                       perToken: probe.map { $0.rank == 3 })
    }
}
