import Foundation
import StrataAutodiff
import StrataCache
import StrataTensor
import StrataTrain

/// `bench/run loader [--images N] [--dir DIR] [--keep]`: the streaming pair loader against a PyTorch
/// `DataLoader` (2 workers) over the `strata_cache` package (py-lmdb + numpy), both reading one epoch of
/// (ResNet-50 C5 7×7 map, caption tokens) pairs into f32 batches of 128: GB/s of f32 output and pairs/s,
/// with the cache out of the page cache (dropped before each run: every read goes to the disk, as for a
/// cache larger than memory) and in it, beside the disk's sequential read speed and each side's peak
/// RSS. Then a projector epoch: its time against the loader's alone and against compute alone.
enum LoaderBench {
    static let image = Manifest.Column(name: "image/resnet50/c5", modality: .image, dtype: .f16, shape: [2048, 7, 7], encoder: "resnet50")
    static let pooled = Manifest.Column(name: "image/resnet50/pooled", modality: .image, dtype: .f16, shape: [2048], encoder: "resnet50")
    static let tokens = Manifest.Column(name: "text/bert/tokens", modality: .text, dtype: .f16, shape: [nil, 384], encoder: "bert")
    static let mean = Manifest.Column(name: "text/bert/mean", modality: .text, dtype: .f16, shape: [384], encoder: "bert")
    static let (batchSize, maxText, captionsPerImage) = (128, 32, 5)

    static func run(_ arguments: [String]) throws {
        var images = 12_000
        var directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-loader-bench").path
        var index = 0
        while index + 1 < arguments.count {
            if arguments[index] == "--images", let value = Int(arguments[index + 1]) { images = value }
            if arguments[index] == "--dir" { directory = arguments[index + 1] }
            index += 2
        }
        let path = directory + "/cache"
        if (try? CacheReader(path: path))?.manifest.counts.images != images {
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try write(path: path, images: images)
        }
        defer { if !arguments.contains("--keep") { try? FileManager.default.removeItem(atPath: directory) } }
        let bytes = (try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as? Int) ?? 0
        let ram = Double(ProcessInfo.processInfo.physicalMemory)
        print(String(format: "loader: %d images (C5 2048×7×7 f16 + %d caption token sequences of 8-32 × 384 f16 each), cache %.2f GB, RAM %.1f GB, %d cores; batch %d, text ≤ %d tokens",
                     images, captionsPerImage, Double(bytes) / 1e9, ram / 1e9, ProcessInfo.processInfo.activeProcessorCount, batchSize, maxText))

        dropCaches()
        let disk = try sequentialRead(path + "/data.mdb")
        print(String(format: "  disk sequential read (page cache dropped): %.2f GB/s", disk))

        var rows: [(String, Epoch, [String: Any])] = []
        for cold in [true, false] {
            if cold { dropCaches() } else { _ = try strataEpoch(path: path, epoch: 1) }  // warm: read once first
            let strata = try strataEpoch(path: path, epoch: 0)
            if cold { dropCaches() }
            let peer = try Peer.run("loader.py", [path, String(batchSize), String(maxText), "2"])
            rows.append((cold ? "out of the page cache" : "in the page cache", strata, peer))
        }
        for (label, strata, peer) in rows {
            let peerGB = peer["gb_s"] as? Double ?? .nan
            let peerPairs = peer["pairs_s"] as? Double ?? .nan
            print("  \(label):")
            print(String(format: "    strata   %6.2f GB/s of f32  %8.0f pairs/s  peak RSS %5.0f MB  (%d loader threads)",
                         strata.gigabytesPerSecond, strata.pairsPerSecond, strata.peakRSS / 1e6, strata.threads))
            print(String(format: "    pytorch  %6.2f GB/s of f32  %8.0f pairs/s  peak RSS %5.0f MB  (DataLoader, 2 workers; RSS of the main process + workers)",
                         peerGB, peerPairs, (peer["peak_rss"] as? Double ?? .nan) / 1e6))
            print(String(format: "    ratio    %6.2fx", strata.gigabytesPerSecond / peerGB)
                  + (label.hasPrefix("out") ? String(format: "   strata reads %.2f GB/s of cache bytes = %.0f%% of the disk's sequential speed",
                                                     strata.cacheGigabytesPerSecond, 100 * strata.cacheGigabytesPerSecond / disk) : ""))
        }
        try projectorEpoch(path: path)
    }

    struct Epoch {
        var gigabytesPerSecond: Double
        var cacheGigabytesPerSecond: Double
        var pairsPerSecond: Double
        var peakRSS: Double
        var threads: Int
    }

    /// One epoch of (C5, tokens) pairs through `PairData`, as `strata train` reads it.
    static func strataEpoch(path: String, epoch: Int) throws -> Epoch {
        PeakMemory.reset()
        let reader = try CacheReader(path: path)
        let data = try PairData(reader: reader, split: "train", imageColumns: [image.name], textColumns: [tokens.name], maxTextLength: maxText)
        let plan = EpochPlan(captionCounts: data.captionsOfImage.map(\.count), batchSize: batchSize, seed: 1)
        let rows = plan.batches(epoch: epoch).map { batch in
            PairData.Rows(images: batch.images, captions: zip(batch.images, batch.captionChoice).map { data.caption(ofImage: $0, choice: $1) })
        }
        var output = 0
        var pairs = 0
        var stored = 0
        let seconds = try Stopwatch.time {
            let stream = data.stream(rows)
            while let (batchRows, inputs) = try stream.next() {
                pairs += batchRows.images.count
                for batch in Array(inputs.images.values) + Array(inputs.texts.values) {
                    output += batch.values.byteCount + (batch.mask?.byteCount ?? 0)
                }
            }
        }
        // Bytes of the cache the epoch read: its image values and its captions' token values.
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        for batch in rows {
            for row in batch.images { stored += try snapshot.rawValue(column: image.name, id: data.imageIDs[row])?.count ?? 0 }
            for row in batch.captions { stored += try snapshot.rawValue(column: tokens.name, id: data.captionIDs[row])?.count ?? 0 }
        }
        return Epoch(gigabytesPerSecond: Double(output) / seconds / 1e9, cacheGigabytesPerSecond: Double(stored) / seconds / 1e9,
                     pairsPerSecond: Double(pairs) / seconds, peakRSS: PeakMemory.residentBytes, threads: data.loader.options.threads)
    }

    /// A projector (pooled C5 → 256, mean tokens → 256) epoch: its time, the loader's alone on the same
    /// batches, and compute alone (the same steps on batches already in memory).
    static func projectorEpoch(path: String) throws {
        var config = HeadConfig(name: "projector", kind: .projector, image: pooled.name, text: mean.name)
        config.train.epochs = 1
        config.train.batchSize = batchSize
        config.train.patience = 0
        let reader = try CacheReader(path: path)
        let data = try PairData(reader: reader, split: "train", imageColumns: [pooled.name], textColumns: [mean.name])
        let plan = EpochPlan(captionCounts: data.captionsOfImage.map(\.count), batchSize: batchSize, seed: config.train.seed)
        let rows = plan.batches(epoch: 0).map { batch in
            PairData.Rows(images: batch.images, captions: zip(batch.images, batch.captionChoice).map { data.caption(ofImage: $0, choice: $1) })
        }
        let loading = try Stopwatch.time {
            let stream = data.stream(rows)
            while try stream.next() != nil {}
        }
        let trainer = try HeadTrainer(config: config, train: data, validation: data)
        let result = try trainer.run()
        let epochSeconds = Double(result.steps) / result.stepsPerSecond
        // Compute alone: the same number of steps on the first batches, held in memory.
        let head = try HeadFactory.make(config, imageWidths: data.imageWidths, textWidths: data.textWidths)
        let optimizer = AdamW(head.namedParameters, learningRate: 1e-3, weightDecay: 0.01)
        let held = try rows.prefix(8).map { try data.inputs(images: $0.images, captions: $0.captions) }
        let tape = Tape(training: true, seed: 1)
        let compute = try Stopwatch.time {
            for step in 0..<rows.count {
                tape.reset()
                optimizer.zeroGradients()
                let (loss, _) = try head.loss(held[step % held.count], on: tape)
                try tape.backward(loss)
                try optimizer.step()
            }
        }
        print(String(format: "  projector epoch (%d steps of %d, pooled C5 + mean tokens, in the page cache): %.2f s; loader alone %.2f s (%.0f%%); compute alone %.2f s (%.0f%%)",
                     rows.count, batchSize, epochSeconds, loading, 100 * loading / epochSeconds, compute, 100 * compute / epochSeconds))
    }

    /// Writes `images` train images with their captions: random finite f16 values, token counts 8-32.
    static func write(path: String, images: Int) throws {
        let manifest = Manifest(pipeline: "loader bench\n", columns: [image, pooled, tokens, mean])
        let writer = try CacheWriter(path: path, manifest: manifest)
        defer { writer.close() }
        var generator = SplitMix64(seed: 1)
        func halves(_ shape: [Int]) -> Tensor {
            var tensor = Tensor(zeros: shape, dtype: .f16)
            tensor.withUnsafeMutableBytes { bytes in
                let h = bytes.bindMemory(to: UInt16.self)
                for i in h.indices { h[i] = UInt16(truncatingIfNeeded: generator.next() % 0x1C00 + 0x3000) | (i & 1 == 0 ? 0 : 0x8000) }
            }
            return tensor
        }
        for start in stride(from: 0, to: images, by: 64) {
            var batch = CacheBatch()
            for i in start..<min(start + 64, images) {
                let id = UInt64(i + 1)
                batch.addImage(id: id, ImageRecord(fileName: "\(id).jpg", width: 640, height: 480, split: .train))
                batch.add(column: image.name, id: id, value: halves([2048, 7, 7]))
                batch.add(column: pooled.name, id: id, value: halves([2048]))
                for k in 0..<UInt64(captionsPerImage) {
                    let caption = id * 10 + k
                    batch.addCaption(id: caption, CaptionRecord(imageID: id, text: "caption \(k) of \(id)", tokenIDs: [101, 102]))
                    batch.add(column: tokens.name, id: caption, value: halves([8 + Int(generator.next() % 25), 384]))
                    batch.add(column: mean.name, id: caption, value: halves([384]))
                }
            }
            try writer.write(batch)
        }
    }

    /// Empties the page cache (needs root; the benchmark says so when it cannot).
    static func dropCaches() {
        sync()
        if (try? "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)) == nil {
            print("  (cannot drop the page cache: not root; 'out of the page cache' numbers are warm)")
        }
    }

    /// GB/s of reading `file` front to back in 8 MB reads.
    static func sequentialRead(_ file: String) throws -> Double {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { throw Peer.Failure(description: "cannot open \(file)") }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 8 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var total = 0
        let seconds = Stopwatch.time {
            while true {
                let n = read(descriptor, buffer, 8 << 20)
                if n <= 0 { break }
                total += n
            }
        }
        return Double(total) / seconds / 1e9
    }

}
