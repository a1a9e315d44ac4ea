/// Errors from reading, validating and running a pipeline.
public enum PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The pipeline file could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid YAML.
    case invalidYAML(file: String, reason: String)
    /// A key holds a value the schema does not allow; `key` is a dotted path such as `encoders.image.levels[1].dtype`.
    case invalidValue(file: String, key: String, reason: String)
    /// The cache was started by a different pipeline file; `changes` lists what differs.
    case pipelineChanged(cache: String, changes: [String])
    /// A build step failed as a whole (not a single sample).
    case buildFailed(reason: String)
    /// An input the pipeline names is missing or unreadable, found before any encoder runs: `key` is
    /// the pipeline key (or command-line option), `path` the resolved path, `written` the value as
    /// written and `base` the folder a relative value was resolved against (nil for an absolute one).
    case inputMissing(file: String, key: String, path: String, written: String, base: String?, reason: String)
    /// A part of a split build (`--part I/N` or a Slurm array task) that does not name one part of N.
    case invalidPart(given: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .invalidYAML(file, reason):
            return "\(file): not valid YAML: \(reason)"
        case let .invalidValue(file, key, reason):
            return "\(file): \(key.isEmpty ? "the document" : key) \(reason)"
        case let .pipelineChanged(cache, changes):
            return "\(cache) was built with a different pipeline file; changed: " + changes.joined(separator: "; ")
                + ". Use a new cache path, or delete the cache to rebuild it."
        case let .buildFailed(reason):
            return "build failed: \(reason)"
        case let .inputMissing(file, key, path, written, base, reason):
            let origin = base.map { " (\"\(written)\" resolved against \($0))" } ?? ""
            return "\(file): \(key): \(path) \(reason)\(origin)"
        case let .invalidPart(given, reason):
            return "part '\(given)': \(reason)"
        }
    }
}
