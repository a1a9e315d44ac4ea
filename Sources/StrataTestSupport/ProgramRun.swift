import Foundation

/// What a program run to completion by a test printed and how it ended.
public struct ProgramRun: Sendable {
    /// The exit status, or the signal's number when a signal ended it.
    public let status: Int32
    /// Whether a signal ended it.
    public let signalled: Bool
    /// Its standard output and standard error, as UTF-8 text.
    public let output: String, errors: String
    /// Its standard output as bytes.
    public let outputData: Data

    /// Runs `executable` with `arguments`, `environment` added to this process's, and waits for it; both
    /// streams are drained as it runs, so neither pipe can fill up and block it.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> ProgramRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let errorText = DrainedData()
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errorText.set(errors.fileHandleForReading.readDataToEndOfFile())
            drained.signal()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return ProgramRun(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                          output: String(decoding: data, as: UTF8.self), errors: String(decoding: errorText.get(), as: UTF8.self),
                          outputData: data)
    }
}

/// Bytes handed over from the thread that drained a pipe.
private final class DrainedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
