import Foundation
import StrataModels
import StrataTensor
import StrataTestSupport
import StrataText

/// `bench/run encoders [IMAGES] [REPEATS]`: ResNet-50, ViT-B/16 and BERT-base forward passes in Strata and
/// PyTorch fp32, both on 2 threads, over the same seeded weights (written to /tmp as safetensors) and
/// inputs: IMAGES random 224x224 images (default 8, best of REPEATS = 2) and the coco-mini captions (BERT batches of 64,
/// bucketed by length; PyTorch is also timed on dataset-order batches padded to their longest caption).
enum EncodersBench {
    static let threads = 2
    /// Forward FLOPs of ResNet-50 at 224x224 (2 · 4.09 GMACs, convolutions and fc).
    static let resnetFlopsPerImage = 2 * 4.089e9

    static func run(_ arguments: [String]) throws {
        let strataOnly = arguments.contains("--strata-only")
        let numbers = arguments.filter { $0 != "--strata-only" }
        let imageCount = numbers.first.flatMap(Int.init) ?? 8
        let repeats = numbers.dropFirst().first.flatMap(Int.init) ?? 2
        Kernels.setBLASThreads(threads)
        let work = URL(fileURLWithPath: "/tmp/strata-bench-encoders")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let sizes = SyntheticCheckpoint.Sizes()
        // Written once; delete the folder to regenerate.
        let resnetFile = work.appendingPathComponent("resnet50.safetensors")
        if !FileManager.default.fileExists(atPath: resnetFile.path) {
            try SyntheticCheckpoint.write(SyntheticCheckpoint.resnet50(), to: resnetFile, seed: 11)
        }
        for (name, specs, config, seed) in [("vit", SyntheticCheckpoint.vit(sizes), sizes.vitConfig, UInt64(12)),
                                            ("bert", SyntheticCheckpoint.bert(sizes), sizes.bertConfig, UInt64(13))] {
            let folder = work.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path) {
                try SyntheticCheckpoint.writeFolder(specs, config: config, at: folder, seed: seed)
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
        let (tokens, batches, orderBatches) = try captions()
        let captionJSON: [String: Any] = ["tokens": tokens.map { $0.map(Int.init) },
                                          "batches": batches.map(\.indices), "order_batches": orderBatches.map(\.indices)]
        try JSONSerialization.data(withJSONObject: captionJSON).write(to: work.appendingPathComponent("captions.json"))

        // Strata.
        let resnet = try EncoderLoader.imageEncoder(model: "resnet50", checkpoint: work.appendingPathComponent("resnet50.safetensors"))
        let resnetLevels = [PyramidLevel(output: "fc")]
        let resnetSeconds = try Stopwatch.best(of: repeats) { _ = try resnet.encode(pixels: images, levels: resnetLevels) }
        let resnetFC = try resnet.encode(pixels: slice(images, 2), levels: resnetLevels)[0]
        let vit = try EncoderLoader.imageEncoder(model: "vit", checkpoint: work.appendingPathComponent("vit"))
        let vitLevels = [PyramidLevel(output: "last_hidden_state"), PyramidLevel(output: "pooler_output")]
        let vitSeconds = try Stopwatch.best(of: repeats) { _ = try vit.encode(pixels: images, levels: vitLevels) }
        let vitPooler = try vit.encode(pixels: slice(images, 2), levels: [PyramidLevel(output: "pooler_output")])[0]
        let bert = try EncoderLoader.textEncoder(model: "bert", checkpoint: work.appendingPathComponent("bert"))
        let packed = try batches.map { try LengthBatching.pack(tokens, batch: $0) }
        let bertLevels = [PyramidLevel(output: "last_hidden_state")]
        let bertSeconds = try Stopwatch.best(of: repeats) {
            for (ids, mask) in packed { _ = try bert.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: bertLevels) }
        }
        let bertFirst = try bert.encode(inputIDs: packed[0].ids, attentionMask: packed[0].mask, tokenTypeIDs: nil, levels: bertLevels)[0]

        let strataResnet = Double(imageCount) / resnetSeconds
        let strataViT = Double(imageCount) / vitSeconds
        let strataBERT = Double(tokens.count) / bertSeconds
        print(String(format: "  Strata: ResNet-50 %.2f img/s (%.1f GFLOP/s), ViT-B/16 %.2f img/s, BERT-base %.1f cap/s",
                     strataResnet, strataResnet * resnetFlopsPerImage / 1e9, strataViT, strataBERT))
        if strataOnly { return }

        // PyTorch.
        let peer = try Peer.run("encoders.py", [work.path, String(threads), String(repeats)])
        func number(_ key: String) throws -> Double {
            guard let value = peer[key] as? Double else { throw Peer.Failure(description: "encoders.py printed no \(key)") }
            return value
        }
        let torchResnet = try number("resnet50_images_per_second")
        let torchViT = try number("vit_images_per_second")
        let torchBERT = try number("bert_captions_per_second")
        let torchBERTUnsorted = try number("bert_unsorted_captions_per_second")
        func agreement(_ strata: Tensor, _ file: String) throws -> String {
            let reference = try NPY.read(contentsOf: work.appendingPathComponent(file))
            return String(format: "%.2g", Conformance.maxAbsDifference(strata.floats, reference.floats))
        }

        let overhead = LengthBatching.paddingOverhead(lengths: tokens.map(\.count), batches: batches)
        let orderOverhead = LengthBatching.paddingOverhead(lengths: tokens.map(\.count), batches: orderBatches)
        print("encoders: fp32, \(threads) threads, best of \(repeats), seeded weights in \(work.path) (torch \(peer["torch"] ?? "?"))")
        print(String(format: "  ResNet-50  batch %d 224x224   Strata %7.2f img/s (%.1f GFLOP/s)   PyTorch %7.2f img/s   ratio %.2fx   max|diff| fc %@",
                     imageCount, strataResnet, strataResnet * resnetFlopsPerImage / 1e9, torchResnet, strataResnet / torchResnet,
                     try agreement(resnetFC, "torch_resnet50_fc.npy")))
        print(String(format: "  ViT-B/16   batch %d 224x224   Strata %7.2f img/s   PyTorch %7.2f img/s   ratio %.2fx   max|diff| pooler %@",
                     imageCount, strataViT, torchViT, strataViT / torchViT, try agreement(vitPooler, "torch_vit_pooler.npy")))
        print(String(format: "  BERT-base  %d coco-mini captions, %d batches of <=64 by length (padding x%.2f)",
                     tokens.count, batches.count, overhead))
        print(String(format: "             Strata %7.1f cap/s   PyTorch same batches %7.1f cap/s   ratio %.2fx   max|diff| %@",
                     strataBERT, torchBERT, strataBERT / torchBERT, try agreement(bertFirst, "torch_bert_first.npy")))
        print(String(format: "             PyTorch dataset-order batches (padding x%.2f) %7.1f cap/s   ratio %.2fx",
                     orderOverhead, torchBERTUnsorted, strataBERT / torchBERTUnsorted))
    }

    /// The first `count` images.
    static func slice(_ images: Tensor, _ count: Int) throws -> Tensor {
        let n = min(count, images.shape[0])
        let per = images.count / max(1, images.shape[0])
        return try Tensor(shape: [n] + images.shape.dropFirst(), floats: Array(images.floats.prefix(n * per)))
    }

    /// The coco-mini captions tokenized with the bert-base-uncased vocabulary, bucketed and in dataset order.
    static func captions() throws -> ([[Int32]], [LengthBatching.Batch], [LengthBatching.Batch]) {
        var texts: [String] = []
        for split in ["train", "val"] {
            let url = try SharedData.url("data/coco-mini/annotations/captions_\(split)2017.json")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            let annotations = json?["annotations"] as? [[String: Any]] ?? []
            texts += annotations.compactMap { $0["caption"] as? String }
        }
        let tokenizer = try BertTokenizer(directory: SharedData.url("models/all-MiniLM-L6-v2"))
        let tokens = try texts.map { try tokenizer.encode($0, options: EncodingOptions(maxLength: 128)).ids }
        let batches = LengthBatching.batches(lengths: tokens.map(\.count), maxBatchSize: 64)
        let order = stride(from: 0, to: tokens.count, by: 64).map { start -> LengthBatching.Batch in
            let indices = Array(start..<min(start + 64, tokens.count))
            return LengthBatching.Batch(indices: indices, paddedLength: indices.map { tokens[$0].count }.max() ?? 0)
        }
        return (tokens, batches, order)
    }
}
