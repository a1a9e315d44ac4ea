import ArgumentParser
import Foundation
import StrataCache
import StrataTestSupport

/// Opens a cache, forks, and has the child try the parent's reader: LMDB handles must refuse to work
/// after fork(). Prints the child's outcome; the cache tests run it.
struct ForkProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-fork-probe",
        abstract: "Check that cache handles refuse to work in a forked child (for tests)."
    )

    @Argument(help: "The cache directory.")
    var cache: String

    @Option(help: "A column to read.")
    var column: String

    @Option(help: "A sample id in that column.")
    var id: UInt64

    func run() throws {
        let reader = try CacheReader(path: cache)
        guard try reader.value(column: column, id: id) != nil else { throw ValidationError("no sample \(id) in \(column)") }
        fflush(stdout)
        let child = fork()
        if child == 0 {
            // The child: the parent's handles must throw instead of touching LMDB's shared state.
            var code: Int32 = 3
            do {
                _ = try reader.value(column: column, id: id)
                code = 1
            } catch CacheError.usedAfterFork {
                code = 0
            } catch {
                code = 2
            }
            // A fresh reader in the child works.
            if code == 0, (try? CacheReader(path: cache).value(column: column, id: id)) == nil { code = 4 }
            _exit(code)
        }
        guard child > 0 else { throw ExitCode(5) }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let exitCode = (status >> 8) & 0xFF
        let outcomes: [Int32: String] = [0: "child refused the parent's handle and opened its own",
                                         1: "child used the parent's handle", 2: "child failed with another error",
                                         4: "child could not open the cache again"]
        print(outcomes[exitCode] ?? "child ended with status \(status)")
        // The parent's handle still works after the fork.
        guard try reader.value(column: column, id: id) != nil else { throw ExitCode(6) }
        if exitCode != 0 { throw ExitCode(1) }
    }
}
