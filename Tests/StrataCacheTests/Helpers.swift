import Foundation
import StrataCache
import StrataTestSupport

/// Runs the built `strata` and `strata-dev` binaries and other programs for the cache tests.
enum Programs {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The `strata` executable built beside the test bundle.
    static func strata() throws -> URL {
        try BuiltProducts.strata()
    }

    /// The `strata-dev` harness executable built beside the test bundle.
    static func strataDev() throws -> URL {
        try BuiltProducts.strataDev()
    }

    /// Runs `executable` to completion; returns its status and standard output.
    @discardableResult
    static func run(_ executable: URL, _ arguments: [String], expectSuccess: Bool = true) throws -> (status: Int32, output: String) {
        let result = try runCapturingErrors(executable, arguments)
        if expectSuccess, result.status != 0 || result.signalled {
            throw Failure(description: "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.output) \(result.errors)")
        }
        return (result.status, result.output)
    }

    /// Runs `executable`; its status, whether a signal ended it, and both output streams.
    static func runCapturingErrors(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, signalled: Bool, output: String, errors: String) {
        let run = try ProgramRun.run(executable, arguments)
        return (run.status, run.signalled, run.output, run.errors)
    }

    /// The system `python3`.
    static func python() throws -> URL {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("python3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Failure(description: "python3 is not on PATH (scripts/setup installs lmdb and numpy for it)")
    }
}

/// A temporary cache directory removed when the test is done.
final class TemporaryCache {
    let url: URL
    var path: String { url.path }

    init() throws { url = try SharedData.temporaryDirectory("strata-cache-test") }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Writes `batches` synthetic batches of `size` into a new cache.
func writeSynthetic(_ cache: TemporaryCache, batches: Int, size: Int, mapSize: Int = 1 << 20) throws {
    let writer = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest, mapSize: mapSize)
    defer { writer.close() }
    for index in 0..<batches { try writer.write(SyntheticCache.batch(index: index, size: size)) }
}
