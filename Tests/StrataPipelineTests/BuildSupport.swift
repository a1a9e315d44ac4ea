import Foundation
import StrataCache
import StrataTestSupport
@testable import StrataPipeline

/// Pipeline files and caches for the build tests.
enum BuildFixture {
    static let root = SharedData.repositoryRoot

    /// A pipeline over the bundled sample with seeded encoders (a small BERT), written to `folder`.
    static func samplePipeline(in folder: URL, workers: String = "", batchImages: Int = 4, extraImages: URL? = nil,
                               annotations: [URL]? = nil, images: URL? = nil, commitEvery: Int = 4) throws -> URL {
        let sample = root.appendingPathComponent("sample/coco-sample")
        let files = annotations ?? ["train2017", "val2017"].map { sample.appendingPathComponent("annotations/captions_\($0).json") }
        var yaml = """
            version: 1
            name: sample-test
            dataset:
              annotations: [\(files.map { "\"\($0.path)\"" }.joined(separator: ", "))]
              images: "\((images ?? sample).path)"

            """
        if let extraImages { yaml += "  extra_images: [\"\(extraImages.path)\"]\n" }
        yaml += """
            preprocess: {resize: 64, crop: 56}
            tokenizer: {path: "\(root.appendingPathComponent("sample/bert-base-uncased-vocab").path)", max_length: 32}
            encoders:
              image:
                model: resnet50
                seed: 3
                levels:
                  - {name: c3, output: layer2, pool: [2, 2], dtype: f16}
                  - {name: c5, output: layer4, dtype: f16}
                  - {name: pooled, output: avgpool, dtype: f32}
              text:
                model: bert
                seed: 4
                config: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64}
                levels:
                  - {name: tokens, output: last_hidden_state, dtype: f16}
                  - {name: layer1, output: hidden_state_1, dtype: bf16}
                  - {name: mean, output: last_hidden_state, reduce: mean, dtype: f32}
            batch: {images: \(batchImages), captions: 8, commit_every: \(commitEvery)}
            \(workers)
            output: {cache: cache}

            """
        let file = folder.appendingPathComponent("pipeline-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Runs a build in this process.
    @discardableResult
    static func build(_ pipeline: URL, cache: URL, stop: StopFlag? = nil, workers: PipelineConfig.Workers? = nil,
                      maxFailures: FailureLimit = .everyImage, part: BuildPart? = nil,
                      afterCommit: (@Sendable (Int) -> Void)? = nil) throws -> BuildSummary {
        var options = BuildOptions()
        options.maxFailures = maxFailures
        options.part = part
        options.afterCommit = afterCommit
        options.workers = workers
        options.cache = cache
        options.progress = nil
        options.log = { _ in }
        if let stop { options.stop = stop }
        return try BuildRunner(config: try PipelineConfig.load(contentsOf: pipeline), provider: .standard, options: options).run()
    }

    /// The bytes of a cache's data file.
    static func dataFile(_ cache: URL) throws -> Data {
        try Data(contentsOf: cache.appendingPathComponent("data.mdb"))
    }

    enum Outcome: Equatable { case completed, killed, failed(Int32) }

    /// When to send SIGKILL: seconds after the process started, after it first committed a transaction,
    /// or as soon as the cache holds some shards.
    enum Kill { case afterStart(Double), afterCommit(Double), afterShards(Int) }

    /// Runs `strata build` (with `arguments` added) as its own process, killing it when `kill` says.
    static func runBuild(_ strata: URL, _ pipeline: URL, _ cache: URL, kill: Kill?, arguments: [String] = []) throws -> Outcome {
        let process = Process()
        process.executableURL = strata
        process.arguments = ["build", pipeline.path, "--cache", cache.path, "--progress", "none"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        switch kill {
        case nil:
            break
        case let .afterStart(delay):
            Thread.sleep(forTimeInterval: delay)
        case let .afterCommit(delay):
            // Waits until this process has committed a transaction (the data file changed).
            let data = cache.appendingPathComponent("data.mdb").path
            let before = modificationDate(data)
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && modificationDate(data) == before && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.005)
            }
            Thread.sleep(forTimeInterval: delay)
        case let .afterShards(count):
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline
                    && ((try? CacheReader(path: cache.path).manifest.counts.batches) ?? 0) < count {
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        if kill != nil { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal { return .killed }
        return process.terminationStatus == 0 ? .completed : .failed(process.terminationStatus)
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
