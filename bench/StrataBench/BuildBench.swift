import Foundation
import StrataPipeline

/// `bench/run build [PIPELINE...]`: builds the same cache with `strata build` and with the PyTorch script
/// a user would write (bench/peers/build.py: DataLoader with 2 workers, torchvision transforms or the
/// EfficientNet-Lite reference package, HF tokenizer, the same weights, py-lmdb), one after the other, and
/// prints images/s, captions/s and the ratio of wall times. Defaults to coco-mini with the fixture
/// ResNet-50 and the real MiniLM, then with the pretrained EfficientNet-Lite0 and MiniLM
/// (scripts/fetch_models.py fetches them).
enum BuildBench {
    static let defaultPipelines = ["pipelines/coco-mini-resnet50-minilm.yaml", "pipelines/coco-mini-efficientnet-minilm.yaml"]

    static func run(_ arguments: [String]) throws {
        for path in arguments.isEmpty ? defaultPipelines : arguments {
            try compare(URL(fileURLWithPath: path))
        }
    }

    static func compare(_ pipeline: URL) throws {
        let config = try PipelineConfig.load(contentsOf: pipeline)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-build-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var options = BuildOptions()
        options.cache = folder.appendingPathComponent("strata")
        options.progress = nil
        options.log = { _ in }
        var summary: BuildSummary?
        let strataSeconds = try Stopwatch.time {
            summary = try BuildRunner(config: config, provider: .standard, options: options).run()
        }
        guard let summary else { return }
        let peerFolder = folder.appendingPathComponent("peer")
        try FileManager.default.createDirectory(at: peerFolder, withIntermediateDirectories: true)
        let peer = try Peer.run("build.py", [pipeline.path, peerFolder.path])
        let peerSeconds = (peer["seconds"] as? Double) ?? .nan
        let images = Double(summary.imagesThisRun), captions = Double(summary.captionsThisRun)

        print("build: \(pipeline.lastPathComponent), \(Int(images)) images, \(Int(captions)) captions (whole build, weights loading included)")
        print(String(format: "  strata build     %7.2f s  %7.1f images/s  %7.1f captions/s", strataSeconds, images / strataSeconds, captions / strataSeconds))
        print(String(format: "  PyTorch script   %7.2f s  %7.1f images/s  %7.1f captions/s  (images %.2f s, captions %.2f s)",
                     peerSeconds, images / peerSeconds, captions / peerSeconds,
                     (peer["image_seconds"] as? Double) ?? .nan, (peer["text_seconds"] as? Double) ?? .nan))
        print(String(format: "  ratio (PyTorch time / Strata time): %.2fx", peerSeconds / strataSeconds))
        print(summary.report)
    }
}
