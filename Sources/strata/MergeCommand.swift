import ArgumentParser
import Foundation
import StrataCache
import StrataPipeline

/// `strata merge`: joins the parts of a split build into the cache one `strata build` writes.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the parts of a build split with --part I/N into the cache one build writes, byte for byte; rerun to resume.",
        discussion: """
            strata merge CACHE merges CACHE.parts/I-of-N into CACHE; strata merge OUT PART... merges the part \
            directories given into OUT; strata merge --pipeline FILE [--cache CACHE] takes CACHE from the pipeline \
            file. Every part must be present and complete and built from the same pipeline, weights, tokenizer and \
            gemm; the parts are only read.
            """
    )

    @Argument(help: "CACHE (its parts are CACHE.parts/I-of-N), or OUT then the part directories.")
    var paths: [String] = []

    @Option(name: .long, help: "Merge into this pipeline file's output.cache (or --cache), from its CACHE.parts.")
    var pipeline: String?

    @Option(name: .long, help: "With --pipeline: the cache the parts were built for with --cache.")
    var cache: String?

    func validate() throws {
        if pipeline == nil, paths.isEmpty { throw ValidationError("name the cache (strata merge CACHE), the output and parts (strata merge OUT PART...), or --pipeline FILE") }
        if pipeline == nil, cache != nil { throw ValidationError("--cache goes with --pipeline; otherwise name the cache as the first argument") }
        if pipeline != nil, cache != nil, !paths.isEmpty { throw ValidationError("with --pipeline and --cache, list only part directories, or nothing") }
    }

    func run() throws {
        var output: URL
        var parts = paths.map { URL(fileURLWithPath: $0) }
        if let pipeline {
            let config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: pipeline))
            output = cache.map { URL(fileURLWithPath: $0) } ?? config.cache
        } else {
            output = parts.removeFirst()
        }
        output = output.standardizedFileURL
        let discovered = parts.isEmpty
        if discovered { parts = try PartMerge.discover(cache: output) }
        let stop = StopFlag()
        let sources = BuildRunOptions.stopOnSignals(stop)
        defer { sources.forEach { $0.cancel() } }
        let outcome = try PartMerge.merge(parts: parts, into: output,
                                          lookedFor: { discovered ? PartMerge.partFolder(of: output, index: $0, count: $1).path : "" },
                                          shouldStop: { stop.isRaised },
                                          log: { FileHandle.standardError.write(Data($0.utf8)) })
        let counts = outcome.manifest.counts
        print("cache \(outcome.cache): \(outcome.isComplete ? "complete" : "stopped; run the same command again to resume")")
        print("  merged from \(outcome.parts.count) parts: \(outcome.committedShards)/\(outcome.totalShards) transactions, "
              + "\(counts.images) images, \(counts.captions) captions, \(counts.failures) failures")
        if outcome.firstShard > 0 { print("  resumed after \(outcome.firstShard) transactions already merged") }
        if !outcome.isComplete { throw ExitCode(130) }
    }
}
