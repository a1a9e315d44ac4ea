/// Errors raised by training and evaluation: head configurations, the cache's pairs, checkpoints and
/// the heads' own inputs. (The tape, layers, losses and optimiser throw `AutodiffError`.)
public enum TrainError: Error, CustomStringConvertible, Equatable {
    /// A head configuration (YAML) is unreadable or asks for something impossible.
    case headConfig(file: String, reason: String)
    /// A key of a head configuration holds a value the schema does not allow; `key` is a dotted path
    /// such as `train.learning_rate` (as pipeline files name theirs).
    case invalidHeadValue(file: String, key: String, reason: String)
    /// The cache lacks what a head needs (a column, a split, captions), or holds it in an unusable shape.
    case cacheData(cache: String, reason: String)
    /// A split holds no image with captions and values in the columns a head reads.
    case emptySplit(cache: String, split: String, columns: [String])
    /// The training split has too few images for one batch (a batch needs two pairs).
    case splitTooSmall(split: String, images: Int, batchSize: Int)
    /// A safetensors file could not be read or written.
    case checkpoint(file: String, reason: String)
    /// A head's inputs have shapes that do not fit it.
    case shapeMismatch(operation: String, shapes: [[Int]])
    /// A head or the trainer was asked for something it cannot do (a column not loaded, no epoch, ...).
    case invalidArgument(operation: String, reason: String)

    public var description: String {
        switch self {
        case let .headConfig(file, reason):
            return "head config \(file): \(reason)"
        case let .invalidHeadValue(file, key, reason):
            return "head config \(file): \(key.isEmpty ? "the document" : key) \(reason)"
        case let .cacheData(cache, reason):
            return "cache \(cache): \(reason)"
        case let .emptySplit(cache, split, columns):
            return "cache \(cache): split '\(split)' has no image with captions and values in \(columns)"
        case let .splitTooSmall(split, images, batchSize):
            return "split '\(split)' has \(images) usable image\(images == 1 ? "" : "s"); one training batch needs at least 2 (batch_size \(batchSize)), so nothing would be trained"
        case let .checkpoint(file, reason):
            return "\(file): \(reason)"
        case let .shapeMismatch(operation, shapes):
            return "\(operation): shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) do not fit"
        case let .invalidArgument(operation, reason):
            return "\(operation): \(reason)"
        }
    }
}
