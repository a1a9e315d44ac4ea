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
    /// appear line by line instead of when the process ends. A failure is reported one way by every
    /// command (`CommandFailure`) and exits with status 1; usage errors are ArgumentParser's.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch where CommandFailure.isStrataFailure(error, of: command) {
            CommandFailure.report(error, command: type(of: command))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}
