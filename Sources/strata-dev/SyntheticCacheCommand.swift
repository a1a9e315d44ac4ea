import ArgumentParser
import Foundation
import StrataCache
import StrataTestSupport

/// Writes the deterministic synthetic cache batch by batch; the cache tests kill it mid-write.
/// Resumes after the batches already committed. Prints `committed N` after each commit.
struct SyntheticCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-synthetic-cache",
        abstract: "Write deterministic test batches to a cache (for tests)."
    )

    @Argument(help: "The cache directory.")
    var cache: String

    @Option(help: "Total batches the cache should hold.")
    var batches = 10

    @Option(help: "Images (and captions) per batch.")
    var batchSize = 16

    @Option(help: "Initial map size in bytes.")
    var mapSize = 1 << 20

    func run() throws {
        let writer = try CacheWriter(path: cache, manifest: SyntheticCache.manifest, mapSize: mapSize)
        defer { writer.close() }
        for index in writer.committedBatches..<max(batches, writer.committedBatches) {
            try writer.write(SyntheticCache.batch(index: index, size: batchSize))
            FileHandle.standardOutput.write(Data("committed \(index + 1)\n".utf8))
        }
    }
}
