import ArgumentParser
import StrataCache

/// The cache directory a command reads, in one of the two option groups below.
protocol CacheLocation {
    /// The cache directory as given.
    var cache: String { get }
}

extension CacheLocation {
    /// A reader of the cache, its B-tree pages walked first unless `checkStructure` is false.
    func reader(checkStructure: Bool = true) throws -> CacheReader {
        try CacheReader(path: cache, checkStructure: checkStructure)
    }
}

/// The cache given as `--cache DIR` (`train`, `eval`).
struct CacheOption: ParsableArguments, CacheLocation {
    @Option(help: "The feature cache directory.")
    var cache: String
}

/// The cache given as the first argument (`inspect`, `verify`, `export`).
struct CacheArgument: ParsableArguments, CacheLocation {
    @Argument(help: "The feature cache directory.")
    var cache: String
}
