import Foundation
import StrataCache
import StrataImage
import StrataModels
import StrataTensor
import StrataText

/// The worker threads of one build and the queues between them:
///
/// ```
/// image feeder ─▶ decode ×N ─▶ batcher (in order) ─▶ image encoder ×K ─┐
///                                                                       ├─▶ writer (this thread)
/// caption feeder (tokenize, bucket by length) ─▶ text encoder ×K ───────┘
/// ```
///
/// Every queue is bounded, and no stage starts a shard more than two ahead of the writer. Batches are
/// cut from each shard's content alone, so the bytes written do not depend on worker counts or timing.
final class StageGraph: @unchecked Sendable {
    private let plan: BuildPlan
    private let config: PipelineConfig
    private let options: BuildOptions
    private let imageSide: ImageSide?
    private let textSide: TextSide?
    private let tokenizer: BertTokenizer?
    private let firstShard: Int
    /// Retrying failed images: batches clear their failures and are not counted as transactions.
    private let retryPipeline: String?
    private let window: ShardWindow

    private let decodeQueue: BoundedQueue<ImageJob>
    private let decodedQueue: BoundedQueue<DecodedImage>
    private let imageBatchQueue: BoundedQueue<ImageBatch>
    private let textBatchQueue: BoundedQueue<TextBatch>
    private let parts: BoundedQueue<ShardPart>

    private let lock = NSLock()
    private var fatal: Error?
    private var shuttingDown = false

    /// Per-stage time and counts, for the summary.
    let metrics: [StageMetrics]
    private let decodeMetrics, batchMetrics, imageEncodeMetrics, tokenizeMetrics, textEncodeMetrics, writeMetrics: StageMetrics

    init(plan: BuildPlan, config: PipelineConfig, options: BuildOptions, imageSide: ImageSide?, textSide: TextSide?,
         tokenizer: BertTokenizer?, firstShard: Int, retryingWith pipeline: String? = nil) {
        self.plan = plan
        retryPipeline = pipeline
        self.config = config
        self.options = options
        self.imageSide = imageSide
        self.textSide = textSide
        self.tokenizer = tokenizer
        self.firstShard = firstShard
        window = ShardWindow(firstShard: firstShard, width: 2)
        let depth = max(1, config.workers.queueDepth)
        // Jobs carry allocated batch slots: two batches in waiting keep the decoders busy.
        decodeQueue = BoundedQueue(capacity: 2 * max(1, config.batch.images))
        decodedQueue = BoundedQueue(capacity: depth * max(1, config.batch.images))
        imageBatchQueue = BoundedQueue(capacity: depth)
        textBatchQueue = BoundedQueue(capacity: depth)
        parts = BoundedQueue(capacity: 1 << 20)
        let workers = config.workers
        decodeMetrics = StageMetrics(name: "decode", workers: workers.decode)
        batchMetrics = StageMetrics(name: "batch", workers: 1)
        imageEncodeMetrics = StageMetrics(name: "encode_image", workers: workers.imageEncoder)
        tokenizeMetrics = StageMetrics(name: "tokenize", workers: workers.tokenize)
        textEncodeMetrics = StageMetrics(name: "encode_text", workers: workers.textEncoder)
        writeMetrics = StageMetrics(name: "write", workers: 1)
        metrics = [decodeMetrics, batchMetrics, imageEncodeMetrics, tokenizeMetrics, textEncodeMetrics, writeMetrics]
    }

    /// What the writer got done.
    struct Outcome {
        /// Shards in the cache when the run ended (including earlier runs').
        var committedShards: Int
    }

    /// Starts the workers, writes shards until all are committed or a stop is requested, then joins
    /// every worker.
    func run(writer: CacheWriter, progress: BuildProgress?) throws -> Outcome {
        guard firstShard < plan.shards.count else { return Outcome(committedShards: firstShard) }
        Kernels.setBLASThreads(config.workers.blasThreads)
        let workers = config.workers
        options.stop.onRaise { [parts] in parts.close() }
        var groups: [DispatchGroup] = []
        groups.append(Workers.start("image-feeder", count: 1) { _ in self.feedImages() })
        if imageSide != nil {
            let decoders = RemainingCount(max(1, workers.decode)) { self.decodedQueue.close() }
            groups.append(Workers.start("decode", count: workers.decode) { _ in
                self.decode()
                decoders.finishOne()
            })
            groups.append(Workers.start("batcher", count: 1) { _ in self.batchImages() })
            groups.append(Workers.start("encode-image", count: workers.imageEncoder) { index in self.encodeImages(worker: index) })
        }
        groups.append(Workers.start("caption-feeder", count: 1) { _ in self.feedCaptions() })
        if textSide != nil {
            groups.append(Workers.start("encode-text", count: workers.textEncoder) { index in self.encodeTexts(worker: index) })
        }

        var next = firstShard
        var writeError: Error?
        do {
            next = try write(writer: writer, progress: progress)
        } catch {
            writeError = error
        }
        shutDown()
        groups.forEach { $0.wait() }
        if let writeError { throw writeError }
        if let fatal = fatalError { throw fatal }
        return Outcome(committedShards: next)
    }

    // MARK: The writer

    private func write(writer: CacheWriter, progress: BuildProgress?) throws -> Int {
        var next = firstShard
        var assemblies: [Int: ShardAssembly] = [:]
        while next < plan.shards.count && !options.stop.isRaised {
            guard let part = parts.pop() else { break }
            let shard: Int
            switch part {
            case let .imagePlan(index, _, _), let .textPlan(index, _, _, _), let .features(index, _, _, _): shard = index
            }
            assemblies[shard, default: ShardAssembly()].add(part)
            advance(progress, for: part)
            while let assembly = assemblies[next], assembly.isComplete {
                let planned = plan.shards[next]
                try writeMetrics.measure(items: planned.images.count) {
                    let batch = try batch(for: planned, assembly)
                    if let retryPipeline { try writer.writeRetry(batch, pipeline: retryPipeline) } else { try writer.write(batch) }
                }
                assemblies[next] = nil
                next += 1
                window.committed(upTo: next)
                if retryPipeline == nil { options.afterCommit?(next) }
                if options.stop.isRaised { break }
            }
        }
        return next
    }

    /// Counts samples as their features (or failures) reach the writer, so progress moves within a shard.
    private func advance(_ progress: BuildProgress?, for part: ShardPart) {
        guard let progress else { return }
        switch part {
        case let .imagePlan(shard, _, failures):
            progress.advance("images", by: imageSide == nil ? plan.shards[shard].images.count : failures.count)
        case let .textPlan(shard, batches, _, failures):
            // Without a text encoder, captions are done once tokenized.
            progress.advance("captions", by: batches == 0 ? plan.shards[shard].captions.count : failures.count)
        case let .features(_, modality, rows, failures):
            progress.advance(modality == .image ? "images" : "captions", by: (rows.first?.ids.count ?? 0) + failures.count)
        }
    }

    private func batch(for shard: BuildPlan.Shard, _ assembly: ShardAssembly) throws -> CacheBatch {
        var batch = CacheBatch()
        for image in shard.images { batch.addImage(id: image.id, image.record) }
        for (id, record) in assembly.captions { batch.addCaption(id: id, record) }
        for rows in assembly.rows { try batch.add(column: rows.column, ids: rows.ids, rows: rows.rows, lengths: rows.lengths) }
        for (modality, id, reason) in assembly.failures { batch.addFailure(modality, id: id, reason: reason) }
        if retryPipeline != nil {
            let failedAgain = Set(assembly.failures.map { $0.1 })
            for image in shard.images where !failedAgain.contains(image.id) { batch.clearFailure(.image, id: image.id) }
        }
        return batch
    }

    // MARK: Images

    private func feedImages() {
        var sequence = 0
        let batchSize = max(1, config.batch.images)
        for shard in plan.shards[firstShard...] {
            guard window.waitForTurn(shard.index), !isShuttingDown else { break }
            guard let side = imageSide else {
                parts.push(.imagePlan(shard: shard.index, batches: 0, failures: []))
                continue
            }
            for start in stride(from: 0, to: shard.images.count, by: batchSize) {
                let images = shard.images[start..<min(start + batchSize, shard.images.count)]
                let slots = ImageSlots(count: images.count, size: side.inputSize)
                for (slot, image) in images.enumerated() {
                    let job = ImageJob(shard: shard.index, sequence: sequence, image: image, slots: slots, slot: slot)
                    guard decodeQueue.push(job) else { return }
                    sequence += 1
                }
            }
        }
        decodeQueue.close()
    }

    private func decode() {
        guard let side = imageSide else { return }
        let preprocessor: ImagePreprocessor
        do {
            preprocessor = try ImagePreprocessor(options: side.preprocess)
        } catch {
            fail(error)
            return
        }
        let expected = side.inputSize
        while let job = decodeQueue.pop() {
            if isShuttingDown { continue }
            var result = DecodedImage(shard: job.shard, sequence: job.sequence, id: job.image.id, slots: job.slots, slot: job.slot, failure: nil)
            decodeMetrics.measure(items: 1) {
                do {
                    let size = try preprocessor.preprocess(contentsOf: job.image.path, into: job.slots.slot(job.slot))
                    if size != expected {
                        result.failure = "\(job.image.record.fileName): preprocessed to \(size), the encoder takes \(expected)"
                    }
                } catch {
                    let reason = "\(error)"
                    result.failure = reason.contains(job.image.record.fileName) ? reason : "\(job.image.record.fileName): \(reason)"
                }
            }
            guard decodedQueue.push(result) else { return }
        }
    }

    /// Puts decoded images back in build order and hands each shard's good images on in batches: the
    /// feeder's batches as they are when every image decoded, else the good ones packed into new batches.
    private func batchImages() {
        guard let side = imageSide else { return }
        var reorder = ReorderBuffer<DecodedImage>()
        var shardIndex = firstShard
        var pending: [DecodedImage] = []
        let batchSize = max(1, config.batch.images)
        defer { imageBatchQueue.close() }
        while shardIndex < plan.shards.count, let decoded = decodedQueue.pop() {
            for item in reorder.insert(decoded.sequence, decoded) {
                pending.append(item)
                guard pending.count == plan.shards[shardIndex].images.count else { continue }
                let good = pending.filter { $0.failure == nil }
                let failures = pending.compactMap { item in item.failure.map { (item.id, $0) } }
                let chunks = stride(from: 0, to: good.count, by: batchSize).map { Array(good[$0..<min($0 + batchSize, good.count)]) }
                guard parts.push(.imagePlan(shard: shardIndex, batches: chunks.count, failures: failures)) else { return }
                for chunk in chunks {
                    let pixels = batchMetrics.measure(items: chunk.count) {
                        failures.isEmpty ? chunk[0].slots.pixels : packed(chunk, size: side.inputSize)
                    }
                    guard imageBatchQueue.push(ImageBatch(shard: shardIndex, ids: chunk.map(\.id), pixels: pixels)) else { return }
                }
                pending.removeAll()
                shardIndex += 1
            }
        }
    }

    /// A new batch holding the slots of `images`, in order (for a shard some of whose images failed).
    private func packed(_ images: [DecodedImage], size: ImageSize) -> Tensor {
        var batch = Tensor(zeros: [images.count, 3, size.height, size.width])
        let stride = 3 * size.height * size.width
        batch.withUnsafeMutableFloats { out in
            guard let base = out.baseAddress else { return }
            for (index, image) in images.enumerated() {
                let source = image.slots.filled(image.slot)
                guard let from = source.baseAddress else { continue }
                (base + index * stride).update(from: from, count: min(stride, source.count))
            }
        }
        return batch
    }

    private func encodeImages(worker: Int) {
        guard let side = imageSide else { return }
        let levels = side.levels.map(\.level)
        runEncoder(worker == 0 ? { side.first } : side.load, batches: imageBatchQueue, modality: .image,
                   metrics: imageEncodeMetrics, shard: \.shard, ids: \.ids) { encoder, batch in
            let outputs = try encoder.encode(pixels: batch.pixels, levels: levels)
            return zip(side.levels, outputs).map { ColumnRows(column: $0.column.name, ids: batch.ids, rows: $1, lengths: nil) }
        }
    }

    /// An encoder worker: encodes batches until the queue ends; a batch the encoder rejects becomes a
    /// failure of each of its samples.
    private func runEncoder<Encoder, Batch>(_ load: () throws -> Encoder, batches: BoundedQueue<Batch>, modality: Manifest.Modality,
                                            metrics: StageMetrics, shard: (Batch) -> Int, ids: (Batch) -> [UInt64],
                                            encode: (Encoder, Batch) throws -> [ColumnRows]) {
        let encoder: Encoder
        do {
            encoder = try load()
        } catch {
            fail(error)
            return
        }
        while let batch = batches.pop() {
            if isShuttingDown { continue }
            let part: ShardPart
            do {
                let rows = try metrics.measure(items: ids(batch).count) { try encode(encoder, batch) }
                let checked = try ColumnRows.separatingNonFinite(rows, modality: modality)
                part = .features(shard: shard(batch), modality: modality, rows: checked.rows, failures: checked.failures)
            } catch {
                part = .features(shard: shard(batch), modality: modality, rows: [],
                                 failures: ids(batch).map { ($0, "\(modality == .image ? "image" : "text") encoder: \(error)") })
            }
            guard parts.push(part) else { return }
        }
    }

    // MARK: Captions

    private func feedCaptions() {
        defer { textBatchQueue.close() }
        let batchSize = max(1, config.batch.captions)
        let encodingOptions = EncodingOptions(maxLength: config.tokenizer.maxLength)
        for shard in plan.shards[firstShard...] {
            guard window.waitForTurn(shard.index), !isShuttingDown else { return }
            var encodings: [Encoding] = []
            if let tokenizer {
                do {
                    encodings = try tokenizeMetrics.measure(items: shard.captions.count) {
                        try tokenizer.encodeBatch(shard.captions.map(\.text), options: encodingOptions,
                                                  threads: max(1, config.workers.tokenize))
                    }
                } catch {
                    fail(error)
                    return
                }
            }
            let records = shard.captions.enumerated().map { offset, caption in
                (caption.id, CaptionRecord(imageID: caption.imageID, text: caption.text,
                                           tokenIDs: offset < encodings.count ? encodings[offset].ids : []))
            }
            guard textSide != nil, !encodings.isEmpty else {
                guard parts.push(.textPlan(shard: shard.index, batches: 0, records: records, failures: [])) else { return }
                continue
            }
            // Bucketing by length, so each batch pads little.
            let tokens = encodings.map(\.ids)
            let buckets = LengthBatching.batches(lengths: tokens.map(\.count), maxBatchSize: batchSize)
            guard parts.push(.textPlan(shard: shard.index, batches: buckets.count, records: records, failures: [])) else { return }
            for bucket in buckets {
                let batch: TextBatch
                do {
                    let (ids, mask) = try LengthBatching.pack(tokens, batch: bucket)
                    batch = TextBatch(shard: shard.index, ids: bucket.indices.map { shard.captions[$0].id },
                                      lengths: bucket.indices.map { tokens[$0].count },
                                      inputIDs: ids, attentionMask: mask, tokenTypeIDs: Tensor(zeros: ids.shape, dtype: .i32))
                } catch {
                    fail(error)
                    return
                }
                guard textBatchQueue.push(batch) else { return }
            }
        }
    }

    private func encodeTexts(worker: Int) {
        guard let side = textSide else { return }
        let levels = side.levels.map(\.level)
        runEncoder(worker == 0 ? { side.first } : side.load, batches: textBatchQueue, modality: .text,
                   metrics: textEncodeMetrics, shard: \.shard, ids: \.ids) { encoder, batch in
            let outputs = try encoder.encode(inputIDs: batch.inputIDs, attentionMask: batch.attentionMask,
                                             tokenTypeIDs: batch.tokenTypeIDs, levels: levels)
            return zip(side.levels, outputs).map { planned, output in
                ColumnRows(column: planned.column.name, ids: batch.ids, rows: output, lengths: planned.perToken ? batch.lengths : nil)
            }
        }
    }

    // MARK: Stopping

    private var isShuttingDown: Bool { lock.lock(); defer { lock.unlock() }; return shuttingDown }
    private var fatalError: Error? { lock.lock(); defer { lock.unlock() }; return fatal }

    /// Records an error that ends the build (not one sample's failure) and stops every stage.
    private func fail(_ error: Error) {
        lock.lock()
        if fatal == nil { fatal = error }
        lock.unlock()
        shutDown()
    }

    private func shutDown() {
        lock.lock()
        shuttingDown = true
        lock.unlock()
        window.close()
        for close in [decodeQueue.close, decodedQueue.close, imageBatchQueue.close, textBatchQueue.close, parts.close] { close() }
    }
}

/// Runs an action when the last of `count` workers finishes.
final class RemainingCount: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private let action: () -> Void

    init(_ count: Int, whenDone action: @escaping () -> Void) {
        remaining = count
        self.action = action
    }

    func finishOne() {
        lock.lock()
        remaining -= 1
        let done = remaining == 0
        lock.unlock()
        if done { action() }
    }
}
