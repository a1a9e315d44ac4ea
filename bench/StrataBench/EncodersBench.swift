import Foundation
import StrataModels
import StrataTensor
import StrataTestSupport
import StrataText

/// `bench/run encoders [IMAGES] [REPEATS]`: ResNet-50, ViT-B/16 and BERT-base forward passes in Strata and
/// PyTorch fp32, both on 2 threads, over the same seeded weights (written once to /tmp/strata-bench-encoders-vN as safetensors) and
/// inputs: IMAGES random 224x224 images (default 8, best of REPEATS = 2) and the first coco-mini captions (BERT batches of 64,
/// bucketed by length; PyTorch is also timed on dataset-order batches padded to their longest caption).
/// Each model is timed in Strata, then at once in PyTorch, so both see the same machine load.
/// `--strata-only` skips PyTorch; `--only=resnet50|vit|efficientnet_lite0|bert` runs one model; `--captions=N` (default: all 795).
enum EncodersBench {
    static let threads = ProcessInfo.processInfo.environment["STRATA_BENCH_THREADS"].flatMap(Int.init) ?? 2
    /// Forward FLOPs of ResNet-50 at 224x224 (2 · 4.09 GMACs, convolutions and fc).
    static let resnetFlopsPerImage = 2 * 4.089e9
    /// Forward FLOPs of ViT-B/16 at 224x224 (2 · 17.6 GMACs).
    static let vitFlopsPerImage = 2 * 17.56e9

    static func run(_ arguments: [String]) throws {
        let strataOnly = arguments.contains("--strata-only")
        let captionLimit = arguments.first { $0.hasPrefix("--captions=") }.flatMap { Int($0.dropFirst("--captions=".count)) } ?? Int.max
        let only = arguments.first { $0.hasPrefix("--only=") }.map { String($0.dropFirst("--only=".count)) }
        let numbers = arguments.filter { !$0.hasPrefix("--") }
        let imageCount = numbers.first.flatMap(Int.init) ?? 8
        let repeats = numbers.dropFirst().first.flatMap(Int.init) ?? 2
        Kernels.setBLASThreads(threads)
        // Named by the weights generator's version, so weights drawn by an older one are not reused.
        let work = URL(fileURLWithPath: "/tmp/strata-bench-encoders-v\(SeededWeights.version)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        // BERT-base / ViT-B/16 sizes. Written once; delete the folder to regenerate.
        let sizes = SeededWeights.TransformerSizes(config: [:])
        for (name, seed) in [("resnet50", UInt64(11)), ("vit", 12), ("bert", 13)] {
            let folder = work.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path) {
                try SeededWeights.writeCheckpoint(model: name, sizes: sizes, seed: seed, into: folder)
            }
        }
        var images = Tensor(zeros: [imageCount, 3, 224, 224])
        var state: UInt64 = 0x1234_5678
        images.withUnsafeMutableFloats { p in
            for i in p.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                p[i] = Float(Int(state >> 41) - (1 << 22)) / Float(1 << 21)
            }
        }
        try NPY.write(images, to: work.appendingPathComponent("images.npy"))
        let (tokens, batches, orderBatches) = try captions(limit: captionLimit)
        let captionJSON: [String: Any] = ["tokens": tokens.map { $0.map(Int.init) },
                                          "batches": batches.map(\.indices), "order_batches": orderBatches.map(\.indices)]
        try JSONSerialization.data(withJSONObject: captionJSON).write(to: work.appendingPathComponent("captions.json"))

        let skip = { (name: String) in only != nil && only != name }
        func time(_ body: () throws -> Void, warmUp: () throws -> Void) throws -> Double {
            try warmUp()
            var best = Double.infinity
            for _ in 0..<repeats { best = min(best, try Stopwatch.time(body)) }
            return best
        }
        /// Runs the peer on one model right after Strata's timing of it, so both see the same machine load.
        func peer(_ model: String) throws -> [String: Any] {
            strataOnly ? [:] : try Peer.run("encoders.py", [work.path, String(threads), String(repeats), model])
        }
        func agreement(_ strata: Tensor, _ file: String) -> String {
            guard let reference = try? NPY.read(contentsOf: work.appendingPathComponent(file)) else { return "-" }
            return String(format: "%.2g", Conformance.maxAbsDifference(strata.floats, reference.floats))
        }
        func ratio(_ strata: Double, _ peer: [String: Any], _ key: String) -> (String, String) {
            guard let torch = peer[key] as? Double else { return ("-", "-") }
            return (String(format: "%.2f", torch), String(format: "%.2fx", strata / torch))
        }
        let core = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "default"
        print("encoders: fp32, \(threads) threads, \(GemmBackend.description) (OpenBLAS kernels: OPENBLAS_CORETYPE \(core)), best of \(repeats), seeded weights in \(work.path)")
        // The peaks ResNet-50's rate is quoted against: the FMA issue rate and the sgemm rate on a large square product.
        let fmaPeak = FMAPeak.measure()
        let sgemmPeak = SgemmPeak.measure(threads: threads)
        print(fmaPeak.description)
        print(String(format: "sgemm peak (1536^3, %@, %d threads): %.1f GFLOP/s", GemmBackend.default.rawValue, threads, sgemmPeak))

        if !skip("resnet50") {
            let resnet = try EncoderLoader.imageEncoder(model: "resnet50", checkpoint: work.appendingPathComponent("resnet50/model.safetensors"))
            let levels = [PyramidLevel(output: "fc")]
            let first = try slice(images, 2)
            let seconds = try time({ _ = try resnet.encode(pixels: images, levels: levels) },
                                   warmUp: { _ = try resnet.encode(pixels: images, levels: levels) })
            let fc = try resnet.encode(pixels: first, levels: levels)[0]
            let torch = try peer("resnet50")
            let strata = Double(imageCount) / seconds
            let (torchRate, factor) = ratio(strata, torch, "resnet50_images_per_second")
            let gflops = strata * resnetFlopsPerImage / 1e9
            print(String(format: "  ResNet-50  batch %d 224x224  Strata %7.2f img/s (%.1f GFLOP/s)  PyTorch %@ img/s  ratio %@  max|diff| fc %@",
                         imageCount, strata, gflops, torchRate, factor, agreement(fc, "torch_resnet50_fc.npy")))
            print(String(format: "             ResNet-50 at %.0f%% of the sgemm peak, %.0f%% of the FMA peak (%d threads)",
                         100 * gflops / sgemmPeak, 100 * gflops / (fmaPeak.perCore * Double(threads)), threads))
        }
        if !skip("vit") {
            let vit = try EncoderLoader.imageEncoder(model: "vit", checkpoint: work.appendingPathComponent("vit"))
            let levels = [PyramidLevel(output: "last_hidden_state"), PyramidLevel(output: "pooler_output")]
            let seconds = try time({ _ = try vit.encode(pixels: images, levels: levels) },
                                   warmUp: { _ = try vit.encode(pixels: images, levels: levels) })
            let pooler = try vit.encode(pixels: slice(images, 2), levels: [PyramidLevel(output: "pooler_output")])[0]
            let torch = try peer("vit")
            let strata = Double(imageCount) / seconds
            let (torchRate, factor) = ratio(strata, torch, "vit_images_per_second")
            print(String(format: "  ViT-B/16   batch %d 224x224  Strata %7.2f img/s (%.1f GFLOP/s)  PyTorch %@ img/s  ratio %@  max|diff| pooler %@",
                         imageCount, strata, strata * vitFlopsPerImage / 1e9, torchRate, factor, agreement(pooler, "torch_vit_pooler.npy")))
        }
        if !skip("efficientnet_lite0") {
            // The real ImageNet weights (scripts/fetch_models.py), as the demo's build runs them.
            let checkpoint = PretrainedModels.efficientNetLite0
            if FileManager.default.fileExists(atPath: checkpoint.path) {
                let link = work.appendingPathComponent("efficientnet_lite0.pth")
                try? FileManager.default.removeItem(at: link)
                try FileManager.default.createSymbolicLink(at: link, withDestinationURL: checkpoint)
                let lite = try EncoderLoader.imageEncoder(model: "efficientnet_lite0", checkpoint: checkpoint)
                let levels = [PyramidLevel(output: "avgpool")]
                let seconds = try time({ _ = try lite.encode(pixels: images, levels: levels) },
                                       warmUp: { _ = try lite.encode(pixels: images, levels: levels) })
                let pooled = try lite.encode(pixels: slice(images, 2), levels: levels)[0]
                let torch = try peer("efficientnet_lite0")
                let strata = Double(imageCount) / seconds
                let (torchRate, factor) = ratio(strata, torch, "efficientnet_lite0_images_per_second")
                print(String(format: "  EfficientNet-Lite0  batch %d 224x224  Strata %7.2f img/s  PyTorch %@ img/s (best of contiguous and channels_last: %@)  ratio %@  max|diff| avgpool %@",
                             imageCount, strata, torchRate, (torch["efficientnet_lite0_layout"] as? String) ?? "-", factor,
                             agreement(pooled, "torch_efficientnet_lite0_avgpool.npy")))
            } else {
                print("  EfficientNet-Lite0  skipped: \(checkpoint.path) is missing (scripts/fetch_models.py fetches it)")
            }
        }
        if !skip("bert") {
            let bert = try EncoderLoader.textEncoder(model: "bert", checkpoint: work.appendingPathComponent("bert"))
            let packed = try batches.map { try LengthBatching.pack(tokens, batch: $0) }
            let levels = [PyramidLevel(output: "last_hidden_state")]
            let encodeFirst = { try bert.encode(inputIDs: packed[0].ids, attentionMask: packed[0].mask, tokenTypeIDs: nil, levels: levels) }
            let seconds = try time({
                for (ids, mask) in packed { _ = try bert.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: levels) }
            }, warmUp: { _ = try encodeFirst() })
            let first = try encodeFirst()[0]
            let torch = try peer("bert")
            let strata = Double(tokens.count) / seconds
            let lengths = tokens.map(\.count)
            let (torchRate, factor) = ratio(strata, torch, "bert_captions_per_second")
            let (unsortedRate, unsortedFactor) = ratio(strata, torch, "bert_unsorted_captions_per_second")
            print(String(format: "  BERT-base  %d coco-mini captions in %d batches of <=64 bucketed by length (padding x%.2f)",
                         tokens.count, batches.count, LengthBatching.paddingOverhead(lengths: lengths, batches: batches)))
            print(String(format: "             Strata %7.1f cap/s  PyTorch same batches %@ cap/s  ratio %@  max|diff| %@",
                         strata, torchRate, factor, agreement(first, "torch_bert_first.npy")))
            print(String(format: "             PyTorch dataset-order batches (padding x%.2f) %@ cap/s  ratio %@",
                         LengthBatching.paddingOverhead(lengths: lengths, batches: orderBatches), unsortedRate, unsortedFactor))
        }
    }

    /// The first `count` images.
    static func slice(_ images: Tensor, _ count: Int) throws -> Tensor {
        let n = min(count, images.shape[0])
        let per = images.count / max(1, images.shape[0])
        return try Tensor(shape: [n] + images.shape.dropFirst(), floats: Array(images.floats.prefix(n * per)))
    }

    /// The coco-mini captions tokenized with the bert-base-uncased vocabulary, bucketed and in dataset order.
    static func captions(limit: Int) throws -> ([[Int32]], [LengthBatching.Batch], [LengthBatching.Batch]) {
        var texts: [String] = []
        for split in ["train", "val"] {
            let url = try SharedData.url("data/coco-mini/annotations/captions_\(split)2017.json")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            let annotations = json?["annotations"] as? [[String: Any]] ?? []
            texts += annotations.compactMap { $0["caption"] as? String }
        }
        let tokenizer = try BertTokenizer(directory: SharedData.url("models/all-MiniLM-L6-v2"))
        let tokens = try texts.prefix(limit).map { try tokenizer.encode($0, options: EncodingOptions(maxLength: 128)).ids }
        let batches = LengthBatching.batches(lengths: tokens.map(\.count), maxBatchSize: 64)
        let order = stride(from: 0, to: tokens.count, by: 64).map { start -> LengthBatching.Batch in
            let indices = Array(start..<min(start + 64, tokens.count))
            return LengthBatching.Batch(indices: indices, paddedLength: indices.map { tokens[$0].count }.max() ?? 0)
        }
        return (tokens, batches, order)
    }
}
