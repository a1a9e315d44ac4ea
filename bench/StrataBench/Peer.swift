import Foundation

/// Runs a Python peer script from `bench/peers/` and returns what it printed as JSON.
enum Peer {
    /// A peer script that failed or printed something other than one JSON object.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The Python interpreter of the peer virtualenv.
    static var python: String {
        ProcessInfo.processInfo.environment["STRATA_PEER_PYTHON"] ?? "../peer-venv/bin/python"
    }

    /// Runs `bench/peers/<script>` with `arguments`; its last stdout line must be a JSON object.
    static func run(_ script: String, _ arguments: [String] = []) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["bench/peers/\(script)"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(script) exited with status \(process.terminationStatus)")
        }
        let lastLine = String(decoding: data, as: UTF8.self)
            .split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any] else {
            throw Failure(description: "\(script) did not print a JSON object")
        }
        return object
    }
}

/// Wall-clock timing for benchmarks.
enum Stopwatch {
    /// Seconds taken by `body`.
    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The best of `repeats` timings of `body`, after one warm-up run.
    static func best(of repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<repeats { best = min(best, try time(body)) }
        return best
    }
}
