import Foundation
import StrataCache
import StrataTensor
import Testing
@testable import StrataTrain
import StrataTestSupport

/// Synthetic caches shared by the head tests, written once per test process into a temporary folder
/// (folders of earlier test processes that have ended are removed first).
enum SyntheticCaches {
    static let root: URL = {
        let files = FileManager.default
        let prefix = "strata-heads-"
        for name in (try? files.contentsOfDirectory(atPath: files.temporaryDirectory.path)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? files.removeItem(at: files.temporaryDirectory.appendingPathComponent(name))
            }
        }
        let url = files.temporaryDirectory.appendingPathComponent(prefix + "\(ProcessInfo.processInfo.processIdentifier)")
        try? files.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Text features a noisy linear function of the image features.
    static let paired: Result<String, Error> = Result {
        let path = root.appendingPathComponent("paired").path
        try SyntheticPairCache.small.write(to: path)
        return path
    }

    /// The same, but training captions generated from the wrong images.
    static let shuffled: Result<String, Error> = Result {
        let path = root.appendingPathComponent("shuffled").path
        var spec = SyntheticPairCache.small
        spec.shuffledTrainPairs = true
        try spec.write(to: path)
        return path
    }
}

/// Small, fast configurations of the five heads over the synthetic columns.
func syntheticConfig(_ kind: HeadConfig.Kind) -> HeadConfig {
    var config: HeadConfig
    switch kind {
    case .projector:
        config = HeadConfig(name: "projector", kind: .projector, image: "image/synth/pooled", text: "text/synth/mean")
    case .crossAttention:
        config = HeadConfig(name: "cross-attention", kind: .crossAttention, image: "image/synth/c5", text: "text/synth/tokens")
    case .decoupled:
        config = HeadConfig(name: "decoupled", kind: .decoupled, image: "image/synth/c4", text: "text/synth/tokens")
    case .pyramid:
        config = HeadConfig(name: "pyramid", kind: .pyramid, levels: [
            HeadConfig.Level(image: "image/synth/c3", text: "text/synth/tokens"),
            HeadConfig.Level(image: "image/synth/c4", text: "text/synth/layer3"),
            HeadConfig.Level(image: "image/synth/c5", text: "text/synth/layer3"),
        ])
    case .concatMLP:
        config = HeadConfig(name: "concat-mlp", kind: .concatMLP, image: "image/synth/pooled", text: "text/synth/mean")
        config.hidden = 128
    }
    config.dim = 32
    config.attentionHeads = 4
    config.dropout = 0
    config.train.epochs = 15
    config.train.batchSize = 32
    config.train.learningRate = 3e-3
    config.train.warmupSteps = 5
    config.train.patience = 0
    return config
}

@Suite("Heads on a synthetic cache", .serialized)
struct HeadsSyntheticTests {
    @Test("every head reaches R@1 ≥ 0.9 in both directions", arguments: HeadConfig.Kind.allCases)
    func headLearns(kind: HeadConfig.Kind) throws {
        let cache = try SyntheticCaches.paired.get()
        let trainer = try HeadTrainer(config: syntheticConfig(kind), cachePath: cache)
        let started = Date()
        let result = try trainer.run()
        print("\(kind.rawValue): \(result.best.summary) (epoch \(result.bestEpoch + 1), \(String(format: "%.2f", Date().timeIntervalSince(started))) s)")
        #expect(result.best.images == 50 && result.best.captions == 250)
        #expect((result.best.imageToText[1] ?? 0) >= 0.9, "\(kind.rawValue) image→text R@1")
        #expect((result.best.textToImage[1] ?? 0) >= 0.9, "\(kind.rawValue) text→image R@1")
        if kind == .crossAttention {
            let reranked = try RetrievalEvaluator.evaluate(result.head, data: trainer.validation, rerankTopK: 5)
            print("cross-attention re-ranked by ITM: \(reranked.summary)")
            #expect((reranked.imageToText[1] ?? 0) >= 0.8 && (reranked.textToImage[1] ?? 0) >= 0.8, "ITM re-ranking")
        }
        // The best checkpoint reloads into the same scores.
        let directory = SyntheticCaches.root.appendingPathComponent("checkpoint-\(kind.rawValue)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("head.safetensors")
        try HeadCheckpoint.save(result.head, imageWidths: trainer.train.imageWidths, textWidths: trainer.train.textWidths, to: url)
        let reloaded = try HeadCheckpoint.load(url)
        #expect(reloaded.config == result.head.config)
        #expect(try RetrievalEvaluator.evaluate(reloaded, data: trainer.validation) == result.best)
    }

    /// Chance on 50 images with 5 captions each: R@1 = 0.02 both ways, t2i mean rank ≈ 25.5.
    @Test("trained on shuffled pairs, heads stay at chance", arguments: [HeadConfig.Kind.projector, .crossAttention, .concatMLP])
    func shuffledPairsStayAtChance(kind: HeadConfig.Kind) throws {
        let cache = try SyntheticCaches.shuffled.get()
        var config = syntheticConfig(kind)
        config.train.epochs = 8
        let trainer = try HeadTrainer(config: config, cachePath: cache)
        let result = try trainer.run()
        let last = try #require(result.records.last { $0.kind == "epoch" }?.validation)
        print("\(kind.rawValue) shuffled: best \(result.best.summary); last \(last.summary)")
        for metrics in [result.best, last] {
            #expect((metrics.imageToText[1] ?? 1) < 0.1, "\(kind.rawValue) image→text R@1")
            #expect((metrics.textToImage[1] ?? 1) < 0.1, "\(kind.rawValue) text→image R@1")
            #expect((metrics.textToImage[10] ?? 1) < 0.45, "\(kind.rawValue) text→image R@10")
            #expect(metrics.textToImageMeanRank > 15, "\(kind.rawValue) text→image mean rank")
        }
    }
}
