import ArgumentParser
import Foundation

/// `strata-dev`: the developer harnesses the tests and benchmarks run (synthetic caches, the fork
/// probe). Not part of the `strata` command line users get.
@main
struct StrataDev: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata-dev",
        abstract: "Test and benchmark harnesses for Strata's developers (not a user tool).",
        subcommands: [
            SyntheticCacheCommand.self,
            SyntheticPairsCommand.self,
            ForkProbeCommand.self,
        ]
    )

    /// Runs the command with standard output line-buffered, so a test reading the output of a process
    /// it kills sees every line written before the kill.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
