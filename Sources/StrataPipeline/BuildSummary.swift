import Foundation
import StrataCache
import StrataImage

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
    /// The failures the build accepts.
    public var failureLimit: FailureLimit = .everyImage
    /// Failed images retried by this run (after the image folder was fixed), and how many of them failed again.
    public var retried: (images: Int, failedAgain: Int) = (0, 0)

    /// Images written by this run.
    public var imagesThisRun: Int { plan.shards[firstShard..<committedShards].reduce(0) { $0 + $1.images.count } }
    /// Captions written by this run.
    public var captionsThisRun: Int { plan.shards[firstShard..<committedShards].reduce(0) { $0 + $1.captions.count } }

    /// Why the build counts as failed despite committing, or nil: too many inputs failed (`--max-failures`).
    public var failureLimitExceeded: String? {
        let imageFailures = failures.filter { $0.modality == .image }.count
        return failureLimit.exceeded(failures: failures.count, imageFailures: imageFailures, images: manifest.counts.images,
                                     inputs: manifest.counts.images + manifest.counts.captions)
    }

    /// Failures counted by cause: an image error's kind (`unreadable`, `corrupt`, ...), `encoder`, or `other`.
    public var failuresByReason: [String: Int] {
        var counts: [String: Int] = [:]
        for failure in failures {
            let kind = ImageError.kind(describedBy: failure.reason)
                ?? (failure.reason.contains("encoder: ") ? "encoder" : failure.reason.contains(": preprocessed to ") ? "size" : "other")
            counts[kind, default: 0] += 1
        }
        return counts
    }

    /// The stage whose workers were busiest (the batcher, which only copies, aside): what bounds the run.
    public var boundBy: StageMetrics? {
        guard imagesThisRun + captionsThisRun > 0 else { return nil }
        return stages.filter { $0.name != "batch" && ($0.items > 0 || $0.busySeconds > 0) }
            .max { $0.busySeconds / Double(max(1, $0.workers)) < $1.busySeconds / Double(max(1, $1.workers)) }
    }

    /// The report printed at the end of `strata build`.
    public var report: String {
        var lines: [String] = []
        var state = committedShards >= plan.shards.count ? "complete" : "stopped; run the same command again to resume"
        if let exceeded = failureLimitExceeded { state += ", but the build failed: \(exceeded)" }
        lines.append("cache \(cache): \(state)")
        lines.append("  \(manifest.counts.images) images, \(manifest.counts.captions) captions, \(committedShards)/\(plan.shards.count) transactions, \(manifest.counts.failures) failures")
        if let part = manifest.part {
            lines.append("  part \(part.index) of \(part.count): \(part.shards.count) of the build's \(part.totalShards) transactions; "
                         + "when every part is complete, strata merge writes the whole cache")
        }
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
            if let bound = boundBy {
                lines.append("  bound by: \(bound.name) (most busy time per worker)")
            }
        }
        if retried.images > 0 {
            lines.append("  retried \(retried.images) images that had failed: \(retried.images - retried.failedAgain) now encoded, \(retried.failedAgain) failed again")
        }
        if !failures.isEmpty {
            let causes = failuresByReason.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            lines.append("  failures (\(causes)):")
            for failure in failures.prefix(50) { lines.append("    \(failure.modality.rawValue) \(failure.id): \(failure.reason)") }
            if failures.count > 50 { lines.append("    ... and \(failures.count - 50) more (all in stats.json's cache and `strata inspect`)") }
        }
        if !problems.isEmpty {
            lines.append("  \(problems.count) annotation records were dropped while reading the dataset:")
            for problem in problems.prefix(20) { lines.append("    \(problem)") }
            if problems.count > 20 { lines.append("    ... and \(problems.count - 20) more") }
        }
        return lines.joined(separator: "\n")
    }
}

extension BuildSummary {
    /// The machine-readable result written to `stats.json` beside the cache's data and printed by
    /// `strata build --json`: counts, failures by cause, per-stage busy time and rate, what bounds the
    /// run, wall time and versions.
    public var stats: [String: Any] {
        let limitExceeded = failureLimitExceeded
        var stageRows: [[String: Any]] = []
        for stage in stages {
            let rate = stage.busySeconds > 0 ? Double(stage.items) / stage.busySeconds : 0
            stageRows.append(["name": stage.name, "workers": stage.workers, "items": stage.items,
                              "busy_seconds": Self.rounded(stage.busySeconds), "items_per_second_per_worker": Self.rounded(rate)])
        }
        let wall = max(seconds, 1e-9)
        return [
            "cache": cache,
            "state": committedShards >= plan.shards.count ? "complete" : "stopped",
            "ok": limitExceeded == nil && committedShards >= plan.shards.count,
            "failure_limit": ["max_failures": failureLimit.description, "exceeded": limitExceeded ?? NSNull()] as [String: Any],
            "counts": [
                "images": manifest.counts.images, "captions": manifest.counts.captions, "failures": manifest.counts.failures,
                "transactions": committedShards, "planned_transactions": plan.shards.count,
                "planned_images": plan.imageCount, "planned_captions": plan.captionCount,
                "images_this_run": imagesThisRun, "captions_this_run": captionsThisRun,
                "retried_images": retried.images, "retried_images_failed_again": retried.failedAgain,
                "dropped_annotation_records": problems.count,
            ],
            "failures_by_reason": failuresByReason,
            "stages": stageRows,
            "bound_by": boundBy?.name ?? NSNull(),
            "wall_seconds": Self.rounded(seconds),
            "images_per_second": Self.rounded(Double(imagesThisRun) / wall),
            "captions_per_second": Self.rounded(Double(captionsThisRun) / wall),
            "versions": [
                "strata": StrataVersion.current,
                "cache_format": manifest.formatVersion,
                "encoders": manifest.encoders.map { encoder -> [String: Any] in
                    ["name": encoder.name, "checkpoint": encoder.checkpoint, "weights_sha256": encoder.weightsSHA256,
                     "gemm": encoder.gemm ?? "openblas"]
                },
            ] as [String: Any],
        ]
    }

    /// `stats` as pretty-printed JSON with sorted keys.
    public func statsJSON() throws -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: stats, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw PipelineError.buildFailed(reason: "cannot encode stats.json: \(error)")
        }
    }

    private static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// The release of Strata this library belongs to (recorded in `stats.json`).
public enum StrataVersion {
    /// Semantic version.
    public static let current = "0.1.0"
}
