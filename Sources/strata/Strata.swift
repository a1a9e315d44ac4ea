import ArgumentParser
import Foundation
import StrataPipeline

/// The `strata` command line: builds feature caches from image-caption datasets and trains heads on them.
@main
struct Strata: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Turn image-caption datasets into a feature cache that multimodal heads train from.",
        version: StrataVersion.current,
        subcommands: [
            IngestCommand.self,
            SchemaCommand.self,
            TokenizeCommand.self,
            PreprocessCommand.self,
            InspectCommand.self,
            VerifyCommand.self,
            ExportCommand.self,
            BuildCommand.self,
            MergeCommand.self,
            DemoCommand.self,
            EncodeCommand.self,
            TrainCommand.self,
            EvalCommand.self,
        ]
    )

    /// Runs the command with standard output line-buffered, so logs written to a file or a pipe
    /// appear line by line instead of when the process ends.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
