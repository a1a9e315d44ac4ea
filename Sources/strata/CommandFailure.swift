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

    /// Whether ArgumentParser reports `error` itself: a usage problem, a help request (its help
    /// command's own error type) or an exit code.
    static func isArgumentParserOwn(_ error: Error) -> Bool {
        error is ValidationError || error is ExitCode || error is CleanExit
            || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}
