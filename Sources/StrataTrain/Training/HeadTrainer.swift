import Foundation
import StrataAutodiff
import StrataCache
import StrataTensor

/// Trains a head on a cache: AdamW with warm-up and cosine decay, gradient clipping, the CLIP logit
/// scale clamped after each step, an evaluation on the validation split after each epoch, the best
/// epoch's parameters kept (and saved as `best.safetensors`), early stopping after `patience` epochs
/// without a better Recall sum, and a JSON-lines log.
public final class HeadTrainer {
    /// The result of a run.
    public struct Result {
        /// The head, holding the best epoch's parameters.
        public let head: RetrievalHead
        /// Validation metrics of the best epoch.
        public let best: RetrievalMetrics
        /// The best epoch (0-based).
        public let bestEpoch: Int
        /// Every log record.
        public let records: [TrainingRecord]
        /// Optimiser steps taken.
        public let steps: Int
        /// Training steps per second over the whole run, evaluation excluded.
        public let stepsPerSecond: Double
        /// The best checkpoint, when an output directory was given.
        public let checkpoint: URL?
    }

    /// The configuration.
    public let config: HeadConfig
    /// Training pairs.
    public let train: PairData
    /// Validation pairs (the training data when the cache has no validation split).
    public let validation: PairData
    /// The head being trained.
    public let head: RetrievalHead
    /// Where `best.safetensors` and `log.jsonl` go, or nil.
    public let outputDirectory: URL?
    /// Why validation does not use the validation split (it has no usable image), or nil.
    public private(set) var validationNote: String?
    /// Called with a line of progress per epoch.
    public var progress: (String) -> Void = { _ in }

    /// Indexes the training and validation splits of the cache at `cachePath` (features are streamed
    /// batch by batch) and initialises the head from the seed.
    public convenience init(config: HeadConfig, cachePath: String, outputDirectory: URL? = nil,
                            loaderOptions: LoaderOptions = LoaderOptions()) throws {
        let reader = try CacheReader(path: cachePath)
        let train = try PairData(reader: reader, split: config.train.split, imageColumns: config.imageColumns,
                                 textColumns: config.textColumns, maxTextLength: config.train.maxTextLength, options: loaderOptions)
        // A cache without a validation split is validated on its training split (and says so); any
        // other problem is an error.
        let validation: PairData
        var note: String?
        do {
            validation = try PairData(reader: reader, split: config.train.valSplit, imageColumns: config.imageColumns,
                                      textColumns: config.textColumns, maxTextLength: config.train.maxTextLength, options: loaderOptions)
        } catch TrainError.emptySplit {
            validation = train
            note = "split '\(config.train.valSplit)' has no usable image: validating on the training split '\(config.train.split)' (its Recall is optimistic)"
        }
        try self.init(config: config, train: train, validation: validation, outputDirectory: outputDirectory)
        validationNote = note
    }

    /// Trains on already indexed data.
    public init(config: HeadConfig, train: PairData, validation: PairData, outputDirectory: URL? = nil) throws {
        self.config = config
        self.train = train
        self.validation = validation
        self.outputDirectory = outputDirectory
        head = try HeadFactory.make(config, imageWidths: train.imageWidths, textWidths: train.textWidths)
        if let outputDirectory {
            do {
                try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            } catch {
                throw TrainError.checkpoint(file: outputDirectory.path, reason: "cannot create the output directory: \(error.localizedDescription)")
            }
        }
    }

    /// Runs the training.
    public func run() throws -> Result {
        let settings = config.train
        let plan = EpochPlan(captionCounts: train.captionsOfImage.map(\.count), batchSize: settings.batchSize, seed: settings.seed)
        guard plan.batchesPerEpoch > 0 else {
            throw TrainError.splitTooSmall(split: settings.split, images: train.imageCount, batchSize: settings.batchSize)
        }
        let totalSteps = plan.batchesPerEpoch * settings.epochs
        // No weight decay on biases, norms, the logit scale and level logits (rank ≤ 1).
        let named = head.namedParameters
        let parameters = named.map(\.parameter)
        let ranks = Dictionary(named.map { ($0.name, $0.parameter.shape.count) }, uniquingKeysWith: { first, _ in first })
        let optimizer = AdamW(named, learningRate: settings.learningRate, weightDecay: settings.weightDecay,
                              noDecay: { name in (ranks[name] ?? 2) <= 1 })
        let schedule = LearningRateSchedule.warmupCosine(warmupSteps: settings.warmupSteps, totalSteps: totalSteps)
        let log = try TrainingLog(url: outputDirectory?.appendingPathComponent("log.jsonl"))
        let checkpoint = outputDirectory?.appendingPathComponent("best.safetensors")
        let tape = Tape(training: true, seed: settings.seed &+ 1)
        let clampRange: ClosedRange<Float> = 0...Float(Foundation.log(100.0))
        var best: (metrics: RetrievalMetrics, epoch: Int, state: [String: Tensor])?
        var step = 0
        var trainingSeconds = 0.0
        for epoch in 0..<settings.epochs {
            let started = Date()
            var sums: [String: Double] = [:]
            var total = 0.0
            let batches = plan.batches(epoch: epoch)
            let stream = train.stream(batches.map { batch in
                PairData.Rows(images: batch.images, captions: zip(batch.images, batch.captionChoice).map { train.caption(ofImage: $0, choice: $1) })
            })
            while let (_, inputs) = try stream.next() {
                tape.reset()
                optimizer.zeroGradients()
                let (loss, parts) = try head.loss(inputs, on: tape)
                let value = tape.scalar(loss)
                try FiniteCheck.loss(value, step: step)
                try tape.backward(loss)
                if settings.gradClip > 0 { GradientClipping.clipGlobalNorm(parameters, maxNorm: settings.gradClip) }
                optimizer.learningRate = schedule.learningRate(base: settings.learningRate, at: step)
                try optimizer.step()
                head.logitScale?.clamp(to: clampRange)
                step += 1
                total += Double(value)
                var partValues: [String: Double] = [:]
                for (name, variable) in parts {
                    partValues[name] = Double(tape.scalar(variable))
                    sums[name, default: 0] += partValues[name] ?? 0
                }
                log.append(TrainingRecord(kind: "step", epoch: epoch, step: step, loss: Double(value), parts: partValues,
                                          learningRate: Double(optimizer.learningRate), temperature: temperature,
                                          validation: nil, stepsPerSecond: nil))
            }
            let seconds = Date().timeIntervalSince(started)
            trainingSeconds += seconds
            let count = Double(max(batches.count, 1))
            let metrics = try RetrievalEvaluator.evaluate(head, data: validation)
            log.append(TrainingRecord(kind: "epoch", epoch: epoch, step: step, loss: total / count,
                                      parts: sums.mapValues { $0 / count }, learningRate: nil, temperature: temperature,
                                      validation: metrics, stepsPerSecond: Double(batches.count) / max(seconds, 1e-9)))
            progress(String(format: "epoch %d  loss %.4f  ", epoch + 1, total / count) + metrics.summary)
            if best.map({ metrics.rsum > $0.metrics.rsum }) ?? true {
                best = (metrics, epoch, head.stateDict)
                if let checkpoint {
                    try HeadCheckpoint.save(head, imageWidths: train.imageWidths, textWidths: train.textWidths, to: checkpoint,
                                            extra: ["strata.epoch": String(epoch), "strata.cache": train.cache,
                                                    "strata.rsum": String(format: "%.2f", metrics.rsum)])
                }
            } else if settings.patience > 0, let best, epoch - best.epoch >= settings.patience {
                progress("early stop: no better validation Recall for \(settings.patience) epochs")
                break
            }
        }
        guard let best else {
            throw TrainError.invalidArgument(operation: "train", reason: "no epoch ran")
        }
        try head.load(stateDict: best.state)
        return Result(head: head, best: best.metrics, bestEpoch: best.epoch, records: log.records, steps: step,
                      stepsPerSecond: Double(step) / max(trainingSeconds, 1e-9), checkpoint: checkpoint)
    }

    var temperature: Double? {
        head.logitScale.map { 1 / Foundation.exp(Double($0.value.floats.first ?? 0)) }
    }
}
