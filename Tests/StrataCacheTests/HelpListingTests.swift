import Foundation
import Testing
import StrataTestSupport

/// `strata` holds only user commands; the test harnesses are `strata-dev`'s.
@Suite struct HelpListingTests {
    /// The subcommand names of a `--help` listing (two-space indented lines under SUBCOMMANDS).
    func subcommands(_ help: String) -> Set<String> {
        guard let section = help.components(separatedBy: "SUBCOMMANDS:").last, help.contains("SUBCOMMANDS:") else { return [] }
        var names = Set<String>()
        for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { if !names.isEmpty { break } else { continue } }
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first else { continue }
            names.insert(String(word))
        }
        return names
    }

    @Test func strataHelpListsOnlyUserCommands() throws {
        let help = try Programs.run(Programs.strata(), ["--help"]).output
        #expect(subcommands(help) == ["ingest", "schema", "tokenize", "preprocess", "inspect", "verify", "export", "build",
                                      "merge", "demo", "encode", "train", "eval"], "\(help)")
        // Arguments each harness accepts: with the harness present the run would start (and write a cache);
        // without it, argument parsing refuses the unknown subcommand (EX_USAGE, 64).
        let folder = try SharedData.temporaryDirectory("strata-help")
        defer { try? FileManager.default.removeItem(at: folder) }
        for harness in ["write-synthetic-cache", "write-synthetic-pairs", "cache-fork-probe"] {
            let result = try Programs.run(Programs.strata(), [harness, folder.appendingPathComponent(harness).path], expectSuccess: false)
            #expect(result.status == 64, "strata \(harness) should not exist")
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent(harness).path))
        }
    }

    @Test func strataDevHoldsTheHarnesses() throws {
        let help = try Programs.run(Programs.strataDev(), ["--help"]).output
        #expect(subcommands(help) == ["write-synthetic-cache", "write-synthetic-pairs", "cache-fork-probe"], "\(help)")
    }
}
