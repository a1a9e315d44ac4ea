import Foundation
import StrataCache
import StrataTensor
import StrataTrain
import StrataTestSupport

/// `bench/run heads [CACHE] [--epochs N] [--threads T] [--seeds K] [--dropout] [--heads NAMES]
/// [--columns IMAGE,TEXT]`: trains heads 1 (projector +
/// contrastive) and 2 (bidirectional cross-attention + ITM) from `heads/*.yaml` on CACHE with Strata and
/// with the PyTorch peer `bench/peers/heads.py`, which reads the same cache through the `strata_cache` package (`python/`).
/// Both start from the same initial weights (a safetensors file Strata writes), visit the same batches
/// (a plan file of image and caption ids per step), use the same hyper-parameters, and pick their best
/// epoch by validation Recall sum. Dropout is off unless `--dropout` is given (the two generators' masks
/// differ, which makes the runs drift apart for reasons unrelated to the implementations). Prints both
/// Recall@K tables, the spread of PyTorch's results across `K` extra seeds (its own initialisation: the
/// noise any comparison has to live with), and the training steps/s ratio.
///
/// `--columns` trains on other pooled columns than the head files name, e.g.
/// `--heads projector --columns image/efficientnet_lite0/pooled,text/bert/mean` on the `strata demo` cache.
///
/// When CACHE does not exist it is written first: synthetic features with the column names and shapes
/// of `pipelines/coco-mini-resnet50-minilm.yaml` and coco-mini's size (80 + 80 images, 5 captions each).
enum HeadsBench {
    static func run(_ arguments: [String]) throws {
        var cache = "/tmp/strata-heads-bench-cache"
        var epochs: Int?
        var threads = 2
        var extraSeeds = 2
        var heads = ["projector", "cross-attention"]
        var dropout = false
        var columns: [String]?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--epochs": epochs = rest.popFirst().flatMap(Int.init)
            case "--threads": threads = rest.popFirst().flatMap(Int.init) ?? threads
            case "--seeds": extraSeeds = rest.popFirst().flatMap(Int.init) ?? extraSeeds
            case "--dropout": dropout = true
            case "--columns": columns = rest.popFirst().map { $0.split(separator: ",").map(String.init) }
            case "--heads": heads = rest.popFirst().map { $0.split(separator: ",").map(String.init) } ?? heads
            default: cache = argument
            }
        }
        Kernels.setBLASThreads(threads)
        if !FileManager.default.fileExists(atPath: cache) {
            var spec = SyntheticPairCache.cocoMiniShapes
            (spec.trainImages, spec.valImages, spec.textNoise) = (80, 80, 4)
            print("writing a synthetic cache with the coco-mini columns to \(cache)")
            try spec.write(to: cache)
        }
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("strata-heads-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        for name in heads {
            var config = try HeadConfig.load(path: "heads/\(name).yaml")
            if let epochs { config.train.epochs = epochs }
            config.train.patience = 0  // both sides run every epoch and report their best one
            if !dropout { config.dropout = 0 }
            if let columns, columns.count == 2 {
                (config.image, config.text, config.levels) = (columns[0], columns[1], nil)
            }
            try compare(config, cache: cache, work: work, threads: threads, extraSeeds: extraSeeds)
        }
    }

    static func compare(_ config: HeadConfig, cache: String, work: URL, threads: Int, extraSeeds: Int) throws {
        let trainer = try HeadTrainer(config: config, cachePath: cache)
        let initial = work.appendingPathComponent("\(config.name)-initial.safetensors")
        try trainer.head.save(to: initial)
        let configFile = work.appendingPathComponent("\(config.name).yaml")
        try Data(try config.yaml().utf8).write(to: configFile)
        let planFile = work.appendingPathComponent("\(config.name)-plan.json")
        try writePlan(config, train: trainer.train, validation: trainer.validation, to: planFile)

        let result = try trainer.run()
        let peer = try Peer.run("heads.py", ["--cache", cache, "--config", configFile.path, "--plan", planFile.path,
                                             "--initial", initial.path, "--threads", String(threads),
                                             "--extra-seeds", String(extraSeeds)])
        guard let torch = peer["best"] as? [String: Any], let torchSpeed = peer["steps_per_second"] as? Double else {
            throw Peer.Failure(description: "heads.py printed no best metrics or steps_per_second")
        }
        let strataRow = ["Strata", pct(result.best.imageToText[1]), pct(result.best.imageToText[5]), pct(result.best.imageToText[10]),
                         pct(result.best.textToImage[1]), pct(result.best.textToImage[5]), pct(result.best.textToImage[10]),
                         String(format: "%.1f", result.best.rsum), String(result.bestEpoch + 1)]
        func torchRow(_ label: String, _ m: [String: Any]) -> [String] {
            func v(_ key: String) -> String { String(format: "%.1f", (m[key] as? Double) ?? .nan) }
            return [label, v("i2t_r1"), v("i2t_r5"), v("i2t_r10"), v("t2i_r1"), v("t2i_r5"), v("t2i_r10"), v("rsum"),
                    "\((m["epoch"] as? Int).map { $0 + 1 } ?? 0)"]
        }
        var rows = [["", "i2t R@1", "R@5", "R@10", "t2i R@1", "R@5", "R@10", "rsum", "best epoch"], strataRow, torchRow("PyTorch", torch)]
        for (index, extra) in ((peer["extra_seeds"] as? [[String: Any]]) ?? []).enumerated() {
            rows.append(torchRow("PyTorch seed \(index + 1)", extra))
        }
        print("heads: \(config.name) (dropout \(config.dropout)), \(trainer.train.imageCount) train / \(trainer.validation.imageCount) val images "
              + "(\(trainer.validation.captionCount) captions), \(config.train.epochs) epochs x \(EpochPlan(captionCounts: trainer.train.captionsOfImage.map(\.count), batchSize: config.train.batchSize, seed: 0).batchesPerEpoch) steps, "
              + "batch \(config.train.batchSize), \(threads) threads, \(cache)")
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            print("  " + row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  "))
        }
        let strataMean = 50 * ((result.best.imageToText[1] ?? 0) + (result.best.textToImage[1] ?? 0))
        let torchMean = (((torch["i2t_r1"] as? Double) ?? 0) + ((torch["t2i_r1"] as? Double) ?? 0)) / 2
        print(String(format: "  mean R@1: Strata %.1f, PyTorch %.1f (difference %+.1f points; PyTorch spread across seeds: ±%.1f)",
                     strataMean, torchMean, strataMean - torchMean, (peer["seed_spread_r1"] as? Double) ?? .nan))
        print(String(format: "  training steps/s: Strata %.2f, PyTorch %.2f (torch %@), ratio %.2fx",
                     result.stepsPerSecond, torchSpeed, "\(peer["torch"] ?? "?")", result.stepsPerSecond / torchSpeed))
    }

    static func pct(_ value: Double?) -> String { String(format: "%.1f", 100 * (value ?? 0)) }

    /// Image and caption ids of every training step and of the validation set, for the peer.
    static func writePlan(_ config: HeadConfig, train: PairData, validation: PairData, to url: URL) throws {
        let plan = EpochPlan(captionCounts: train.captionsOfImage.map(\.count), batchSize: config.train.batchSize, seed: config.train.seed)
        var epochs: [[[String: [UInt64]]]] = []
        for epoch in 0..<config.train.epochs {
            epochs.append(plan.batches(epoch: epoch).map { batch in
                ["images": batch.images.map { train.imageIDs[$0] },
                 "captions": zip(batch.images, batch.captionChoice).map { train.captionIDs[train.captionsOfImage[$0][$1]] }]
            })
        }
        let object: [String: Any] = ["epochs": epochs, "val_images": validation.imageIDs, "val_captions": validation.captionIDs,
                                     "val_caption_image": validation.captionImage]
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }
}
