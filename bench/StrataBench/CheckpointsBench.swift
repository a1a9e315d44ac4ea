import Foundation
import StrataModels
import StrataTensor

/// `bench/run checkpoints [REPEATS]`: loading a `torch.save` ResNet-50 (`.pth`, torchvision names) and a
/// Hugging Face BERT-base `pytorch_model.bin`, random weights written by the peer into
/// /tmp/strata-bench-checkpoints. Strata reads the archive natively (restricted unpickler, memory-mapped
/// storages); the peer runs `torch.load(weights_only=True)` and `torch.load` + `load_state_dict`.
/// Compared: reading every tensor as f32 (`TorchCheckpoint` + `floatTensor`) against `torch.load`, and a
/// ready encoder (ResNet: batch norms folded, weights packed; BERT: layers built) against `torch.load` +
/// `load_state_dict` into a model built beforehand. Best of REPEATS (default 3), each after a warm-up, so
/// both sides read from the page cache.
enum CheckpointsBench {
    static func run(_ arguments: [String]) throws {
        let repeats = arguments.first.flatMap(Int.init) ?? 3
        let threads = ProcessInfo.processInfo.environment["STRATA_BENCH_THREADS"].flatMap(Int.init) ?? 2
        Kernels.setBLASThreads(threads)
        let work = URL(fileURLWithPath: "/tmp/strata-bench-checkpoints")
        let peer = try Peer.run("checkpoints.py", [work.path, String(repeats), String(threads)])
        let resnet = work.appendingPathComponent("resnet50-random.pth")
        let bert = work.appendingPathComponent("bert-base")
        let bertFile = bert.appendingPathComponent("pytorch_model.bin")
        func readAll(_ url: URL) throws {
            let source = try TorchCheckpoint(url: url)
            for name in source.names { _ = try source.floatTensor(name) }
        }
        let rows: [(String, Double, String)] = [
            ("resnet50 .pth: read every tensor vs torch.load", try Stopwatch.best(of: repeats) { try readAll(resnet) }, "resnet50_torch_load"),
            ("resnet50 .pth: encoder ready vs torch.load + load_state_dict",
             try Stopwatch.best(of: repeats) { _ = try ResNet(checkpoint: resnet, expected: "resnet50") }, "resnet50_load_state_dict"),
            ("bert-base .bin: read every tensor vs torch.load", try Stopwatch.best(of: repeats) { try readAll(bertFile) }, "bert_torch_load"),
            ("bert-base .bin: encoder ready vs torch.load + load_state_dict",
             try Stopwatch.best(of: repeats) { _ = try BERT(folder: bert) }, "bert_load_state_dict"),
        ]
        print("checkpoints: best of \(repeats), \(threads) threads, torch \(peer["torch"] as? String ?? "?"), files in \(work.path)")
        print("                                                                     strata s   torch s   strata/torch")
        for (label, strata, key) in rows {
            let torch = peer[key] as? Double ?? .nan
            print(label.padding(toLength: 68, withPad: " ", startingAt: 0)
                  + String(format: " %8.3f  %8.3f   %6.2fx", strata, torch, strata / torch))
        }
    }
}
