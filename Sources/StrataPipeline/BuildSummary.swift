import Foundation
import StrataCache

/// What a build did: the cache's contents, this run's throughput per stage, and every failure.
public struct BuildSummary {
    /// The cache directory.
    public var cache: String
    /// The plan the build followed.
    public var plan: BuildPlan
    /// Shards the cache already held when this run started.
    public var firstShard: Int
    /// Shards the cache holds now.
    public var committedShards: Int
    /// Whether the run stopped (on request) before committing every shard.
    public var stoppedEarly: Bool
    /// Wall time of this run, in seconds.
    public var seconds: Double
    /// Time and counts per stage, for this run.
    public var stages: [StageMetrics]
    /// Every failure recorded in the cache (all runs).
    public var failures: [CacheFailure]
    /// The manifest as committed.
    public var manifest: Manifest
    /// Encoders that ran on seeded (random) weights.
    public var seededEncoders: [String]
    /// Annotation records that were dropped while reading the dataset.
    public var problems: [String]

    /// Images written by this run.
    public var imagesThisRun: Int { plan.shards[firstShard..<committedShards].reduce(0) { $0 + $1.images.count } }
    /// Captions written by this run.
    public var captionsThisRun: Int { plan.shards[firstShard..<committedShards].reduce(0) { $0 + $1.captions.count } }

    /// The report printed at the end of `strata build`.
    public var report: String {
        var lines: [String] = []
        let state = committedShards >= plan.shards.count ? "complete" : "stopped; run the same command again to resume"
        lines.append("cache \(cache): \(state)")
        lines.append("  \(manifest.counts.images) images, \(manifest.counts.captions) captions, \(committedShards)/\(plan.shards.count) transactions, \(manifest.counts.failures) failures")
        if firstShard > 0 { lines.append("  resumed after \(firstShard) transactions already in the cache") }
        for name in seededEncoders {
            lines.append("  note: \(name) ran on weights drawn from a fixed seed, not a trained checkpoint; its features only exercise the pipeline")
        }
        if imagesThisRun + captionsThisRun > 0 {
            let wall = max(seconds, 1e-9)
            lines.append(String(format: "  this run: %.1f s, %.1f images/s, %.1f captions/s", seconds,
                                Double(imagesThisRun) / wall, Double(captionsThisRun) / wall))
            lines.append("  stage          workers   items   busy s   items/s per worker")
            for stage in stages where stage.items > 0 || stage.busySeconds > 0.001 {
                let rate = stage.busySeconds > 0 ? Double(stage.items) / stage.busySeconds : 0
                let name = stage.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                lines.append("  " + name + String(format: " %7d %7d %8.2f %12.1f", stage.workers, stage.items, stage.busySeconds, rate))
            }
            if let bound = stages.filter({ $0.name != "batch" }).max(by: { $0.busySeconds / Double(max(1, $0.workers)) < $1.busySeconds / Double(max(1, $1.workers)) }) {
                lines.append("  bound by: \(bound.name) (most busy time per worker)")
            }
        }
        if !failures.isEmpty {
            lines.append("  failures:")
            for failure in failures { lines.append("    \(failure.modality.rawValue) \(failure.id): \(failure.reason)") }
        }
        if !problems.isEmpty {
            lines.append("  \(problems.count) annotation records were dropped while reading the dataset:")
            for problem in problems.prefix(20) { lines.append("    \(problem)") }
            if problems.count > 20 { lines.append("    ... and \(problems.count - 20) more") }
        }
        return lines.joined(separator: "\n")
    }
}
