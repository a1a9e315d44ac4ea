import ArgumentParser
import StrataCache

/// `strata verify CACHE`: checksums and manifest against contents; exits 1 when anything is damaged.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every value's checksum and size and the manifest's counts; exit 1 on damage."
    )

    @OptionGroup var location: CacheArgument

    @Option(help: "Stop listing problems after this many.")
    var limit = 100

    func run() throws {
        let structure = try CacheVerifier.verifyStructure(path: location.cache, limit: max(limit, 1))
        guard structure.isEmpty else {
            for problem in structure { print("damaged: \(problem)") }
            print("\(structure.count)\(structure.count >= limit ? "+" : "") problems in the LMDB file of \(location.cache); its values were not read")
            throw ExitCode(1)
        }
        let reader = try location.reader(checkStructure: false)  // just walked above
        let problems = try CacheVerifier.verify(reader, limit: max(limit, 1))
        let values = reader.manifest.columns.reduce(0) { $0 + $1.count }
        if problems.isEmpty {
            print("ok: \(values) values in \(reader.manifest.columns.count) columns, \(reader.manifest.counts.images) images and \(reader.manifest.counts.captions) captions verified")
            return
        }
        for problem in problems { print("damaged: \(problem)") }
        print("\(problems.count)\(problems.count >= limit ? "+" : "") problems in \(reader.path)")
        throw ExitCode(1)
    }
}
