import ArgumentParser
import Foundation

/// How every command reports a failure: one line `strata COMMAND: REASON` on standard error, the reason
/// being the typed error's description (which names the file, the key and what is wrong).
enum CommandFailure {
    /// Writes `strata NAME: message` to standard error.
    static func report(_ message: String, command: String) {
        FileHandle.standardError.write(Data("strata \(command): \(message)\n".utf8))
    }

    /// Writes the error thrown by `command` to standard error.
    static func report(_ error: Error, command: ParsableCommand.Type) {
        report(String(describing: error), command: command.configuration.commandName ?? "strata")
    }

    /// Whether `command` failed with one of Strata's own errors, which `report` writes; otherwise
    /// ArgumentParser reports it: a usage problem, an exit code, or anything its own commands (help)
    /// throw.
    static func isStrataFailure(_ error: Error, of command: ParsableCommand) -> Bool {
        let ours = Strata.configuration.subcommands.contains { $0 == type(of: command) }
        return ours && !(error is ValidationError || error is ExitCode || error is CleanExit)
    }
}
