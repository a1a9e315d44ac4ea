import Foundation
import StrataTensor

/// Locates the repository and the `../shared` data beside it, for tests and benchmarks.
public enum SharedData {
    /// Raised when the shared data is not where the tests expect it.
    public struct Missing: Error, CustomStringConvertible {
        /// The path that was looked for.
        public let path: String
        public var description: String {
            "missing \(path): the tests read ../shared beside the repository checkout (fixtures, models and sample data)"
        }
    }

    /// The repository root (the folder holding Package.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // StrataTestSupport
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()

    /// `../shared` beside the repository root.
    public static let root: URL = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")

    /// A file or folder under `../shared`, which must exist.
    public static func url(_ relativePath: String) throws -> URL {
        let url = root.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else { throw Missing(path: url.path) }
        return url
    }

    /// Reads a `.npy` fixture under `../shared`.
    public static func npy(_ relativePath: String) throws -> Tensor {
        try NPY.read(contentsOf: url(relativePath))
    }

    /// A fresh temporary directory, removed by the caller when done.
    public static func temporaryDirectory(_ prefix: String = "strata-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Numeric comparison used by the conformance tests.
public enum Conformance {
    /// Largest absolute elementwise difference; `.infinity` when the counts differ.
    public static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        var worst: Float = 0
        for i in a.indices {
            let d = abs(a[i] - b[i])
            if d.isNaN { return .infinity }
            worst = max(worst, d)
        }
        return worst
    }

    /// The fixtures' tolerance: `relative · max(1, max|reference|)`.
    public static func tolerance(reference: [Float], relative: Float = 1e-4) -> Float {
        relative * max(1, reference.reduce(0) { max($0, abs($1)) })
    }

    /// Whether `actual` matches `reference` within the fixtures' tolerance.
    public static func matches(_ actual: Tensor, _ reference: Tensor, relative: Float = 1e-4) -> Bool {
        guard actual.shape == reference.shape else { return false }
        let ref = reference.floats
        return maxAbsDifference(actual.floats, ref) <= tolerance(reference: ref, relative: relative)
    }
}

/// Programs built beside the test bundle.
public enum BuiltProducts {
    /// Raised when a product was not built beside the tests.
    public struct NotBuilt: Error, CustomStringConvertible {
        /// What was looked for, and where.
        public let description: String
    }

    /// The `strata` executable built beside the test bundle (the products directory).
    public static func strata() throws -> URL {
        try executable("strata")
    }

    /// The `strata-dev` executable (test harnesses: synthetic caches, the fork probe) built beside the test bundle.
    public static func strataDev() throws -> URL {
        try executable("strata-dev")
    }

    /// The executable `name` built beside the test bundle.
    static func executable(_ name: String) throws -> URL {
        var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        if let executable = Bundle.main.executableURL { starts.append(executable) }
        for start in starts {
            var directory = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate.path) {
                    return candidate
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw NotBuilt(description: "the built \(name) binary was not found next to the test bundle (\(starts.map(\.path)))")
    }
}
