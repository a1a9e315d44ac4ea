import Foundation

// `strata-bench NAME [ARGS...]` runs one benchmark; `bench/run NAME` is the usual way in.
// Each benchmark measures Strata and its Python peer side by side in one run and prints the ratio.

/// The benchmarks by name. Each takes the remaining command-line arguments.
let benchmarks: [String: ([String]) throws -> Void] = [
    "tokenize": TokenizeBench.run,
    "image": ImageBench.run,
    "cache": CacheBench.run,
    "loader": LoaderBench.run,
    "gemm": GemmBench.run,
    "train": TrainBench.run,
    "build": BuildBench.run,
    "encoders": EncodersBench.run,
    "heads": HeadsBench.run,
    "scale": ScaleBench.run,
    "checkpoints": CheckpointsBench.run,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let run = benchmarks[name] else {
    let known = benchmarks.keys.sorted().joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: strata-bench NAME [ARGS...]   (NAME: \(known))\n".utf8))
    exit(2)
}
do {
    try run(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("strata-bench \(name): \(error)\n".utf8))
    exit(1)
}
