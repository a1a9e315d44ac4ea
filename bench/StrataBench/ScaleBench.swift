import Foundation
import StrataCache
import StrataPipeline

/// `bench/run scale [--images N] [--parts P] [PIPELINE]`: builds a synthetic COCO-format dataset of N
/// images (scripts/make_synthetic_coco.py: COCO's image sizes and caption lengths) with PIPELINE's
/// encoders (default pipelines/coco-mini-resnet50-minilm.yaml), once whole and once as P parts plus
/// the merge, and reports steady-state images/s, peak RSS, how the map and data file grew, and the
/// projected time for COCO train2017 (118,287 images) on one machine and on P machines.
enum ScaleBench {
    static let train2017 = 118_287.0

    /// Times of one build's commits.
    final class Commits: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var points: [(seconds: Double, shards: Int, mapBytes: Int, fileBytes: Int)] = []
        let start = DispatchTime.now().uptimeNanoseconds
        let cache: URL

        init(cache: URL) { self.cache = cache }

        func record(_ shards: Int) {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            // The writer's own environment (one per directory per process).
            let map = (try? LMDBEnvironment.open(path: cache.path).mapSize) ?? 0
            let file = ((try? FileManager.default.attributesOfItem(atPath: cache.appendingPathComponent("data.mdb").path))?[.size] as? Int) ?? 0
            lock.lock()
            points.append((seconds, shards, map, file))
            lock.unlock()
        }
    }

    struct Run {
        var seconds: Double
        var images: Int
        /// Images per second over the commits after the first fifth (weights loaded, queues full).
        var steadyRate: Double
        /// Seconds before the first commit (plan, weights, first shard through the pipeline).
        var startSeconds: Double
        var commits: Commits
    }

    static func run(_ arguments: [String]) throws {
        var images = 3000, parts = 4
        var pipelinePath = "pipelines/coco-mini-resnet50-minilm.yaml"
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--images": images = Int(rest.popFirst() ?? "") ?? images
            case "--parts": parts = Int(rest.popFirst() ?? "") ?? parts
            default: pipelinePath = argument
            }
        }
        let dataset = FileManager.default.temporaryDirectory.appendingPathComponent("strata-synthetic-coco-\(images)")
        let annotations = dataset.appendingPathComponent("annotations/captions_train2017.json")
        if !FileManager.default.fileExists(atPath: annotations.path) {
            FileHandle.standardError.write(Data("scale: generating \(images) synthetic COCO images in \(dataset.path)\n".utf8))
            _ = try Peer.run("../../scripts/make_synthetic_coco.py", [dataset.path, "--images", "\(images)"])
        }
        var config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: pipelinePath))
        config.dataset.annotations = [annotations]
        config.dataset.images = dataset
        config.dataset.instances = []
        config.dataset.karpathy = nil
        config.dataset.limit = nil
        config.dataset.splits = nil

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-scale-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = folder.appendingPathComponent("whole")
        let wholeRun = try build(config, cache: whole, part: nil)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakRSS = Double(usage.ru_maxrss) / 1024

        let split = folder.appendingPathComponent("split")
        var partRuns: [Run] = []
        for index in 0..<parts { partRuns.append(try build(config, cache: split, part: try BuildPart(index: index, count: parts))) }
        var merged: PartMerge.Outcome?
        let mergeSeconds = try Stopwatch.time {
            merged = try PartMerge.merge(parts: try PartMerge.discover(cache: split), into: split)
        }
        let identical = try Data(contentsOf: whole.appendingPathComponent("data.mdb")) == Data(contentsOf: split.appendingPathComponent("data.mdb"))

        let fileBytes = Double(wholeRun.commits.points.last?.fileBytes ?? 0)
        print("scale: \(pipelinePath) on \(images) synthetic COCO images (\(config.batch.commitEvery) per transaction), "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage()) at the end")
        print(String(format: "  whole build: %.1f s, %.2f images/s overall, %.2f images/s steady state (%.1f s to the first commit)",
                     wholeRun.seconds, Double(wholeRun.images) / wholeRun.seconds, wholeRun.steadyRate, wholeRun.startSeconds))
        print(String(format: "  peak RSS of the build: %.0f MB", peakRSS))
        var growth: [String] = []
        var lastMap = 0
        for point in wholeRun.commits.points where point.mapBytes != lastMap {
            growth.append(String(format: "%d MB at shard %d", point.mapBytes >> 20, point.shards))
            lastMap = point.mapBytes
        }
        print("  map size: " + growth.joined(separator: ", "))
        print(String(format: "  data.mdb: %.1f MB, %.1f KB an image (captions included) -> %.1f GB for train2017",
                     fileBytes / 1e6, fileBytes / Double(max(1, wholeRun.images)) / 1e3, fileBytes / Double(max(1, wholeRun.images)) * train2017 / 1e9))
        for (index, run) in partRuns.enumerated() {
            print(String(format: "  part %d/%d: %d images in %.1f s, %.2f images/s steady state", index, parts, run.images, run.seconds, run.steadyRate))
        }
        print(String(format: "  merge of %d parts: %.2f s for %d shards (%.0f images/s, %.0f MB/s); identical to the whole build: %@",
                     parts, mergeSeconds, merged?.totalShards ?? 0, Double(images) / mergeSeconds, fileBytes / mergeSeconds / 1e6,
                     identical ? "yes" : "NO"))
        let oneMachine = wholeRun.startSeconds + train2017 / wholeRun.steadyRate
        let slowestPart = partRuns.map { $0.startSeconds + train2017 / Double(parts) / $0.steadyRate }.max() ?? .nan
        let mergeProjected = mergeSeconds * train2017 / Double(images)
        print(String(format: "  projected for train2017 (118,287 images): one machine %.1f h; %d parts on %d machines %.1f h (slowest part %.1f h + merge %.1f min)",
                     oneMachine / 3600, parts, parts, (slowestPart + mergeProjected) / 3600, slowestPart / 3600, mergeProjected / 60))
    }

    static func build(_ config: PipelineConfig, cache: URL, part: BuildPart?) throws -> Run {
        var options = BuildOptions()
        options.cache = cache
        options.part = part
        options.progress = nil
        options.log = { _ in }
        options.seedMissingCheckpoints = true
        let runner = BuildRunner(config: config, provider: .standard, options: options)
        let commits = Commits(cache: runner.cacheURL)
        options.afterCommit = { commits.record($0) }
        var summary: BuildSummary?
        let seconds = try Stopwatch.time {
            summary = try BuildRunner(config: config, provider: .standard, options: options).run()
        }
        let shards = summary?.plan.shards ?? []
        let points = commits.points
        let skip = points.count / 5
        var rate = Double.nan
        if let first = points.dropFirst(skip).first, let last = points.last, last.shards > first.shards {
            let imagesBetween = shards[first.shards..<last.shards].reduce(0) { $0 + $1.images.count }
            rate = Double(imagesBetween) / (last.seconds - first.seconds)
        }
        return Run(seconds: seconds, images: summary?.plan.imageCount ?? 0, steadyRate: rate,
                   startSeconds: points.first?.seconds ?? .nan, commits: commits)
    }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}
