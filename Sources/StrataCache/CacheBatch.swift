import StrataTensor

/// The samples of one writer transaction: index records, feature values and failures.
///
/// Feature values are rows of tensors and are not copied: a batch tensor `[B, ...]` from an encoder goes
/// in as it is. The writer sorts each table's entries by id, so ids may arrive in any order.
public struct CacheBatch: Sendable {
    /// One feature value: `byteCount` bytes at `byteOffset` of `tensor`'s storage.
    struct Value: Sendable {
        let id: UInt64
        let tensor: Tensor
        let byteOffset: Int
        let byteCount: Int
    }

    var images: [(id: UInt64, record: ImageRecord)] = []
    var captions: [(id: UInt64, record: CaptionRecord)] = []
    var failures: [(modality: Manifest.Modality, id: UInt64, reason: String)] = []
    var clearedFailures: [(modality: Manifest.Modality, id: UInt64)] = []
    var values: [String: [Value]] = [:]

    /// An empty batch.
    public init() {}

    /// Whether the batch holds nothing.
    public var isEmpty: Bool {
        images.isEmpty && captions.isEmpty && failures.isEmpty && clearedFailures.isEmpty && values.values.allSatisfy(\.isEmpty)
    }

    /// Adds (or replaces) the index entry of an image.
    public mutating func addImage(id: UInt64, _ record: ImageRecord) {
        images.append((id, record))
    }

    /// Adds (or replaces) the index entry of a caption.
    public mutating func addCaption(id: UInt64, _ record: CaptionRecord) {
        captions.append((id, record))
    }

    /// Records that the image or caption `id` could not be processed, and why.
    public mutating func addFailure(_ modality: Manifest.Modality, id: UInt64, reason: String) {
        failures.append((modality, id, reason))
    }

    /// Removes the failure an earlier transaction recorded for `id`, which this batch now holds
    /// (a retry after the input was fixed).
    public mutating func clearFailure(_ modality: Manifest.Modality, id: UInt64) {
        clearedFailures.append((modality, id))
    }

    /// Adds one sample's value: `tensor` has the column's per-sample shape (for variable-length
    /// columns, any leading length). Its dtype is converted to the column's when they differ.
    public mutating func add(column: String, id: UInt64, value tensor: Tensor) {
        values[column, default: []].append(Value(id: id, tensor: tensor, byteOffset: 0, byteCount: tensor.byteCount))
    }

    /// Adds the rows of a batch tensor `[B, ...]`, row `i` being sample `ids[i]`. For variable-length
    /// columns the tensor is `[B, T, ...]` and `lengths[i] ≤ T` leading steps of row `i` are stored.
    public mutating func add(column: String, ids: [UInt64], rows tensor: Tensor, lengths: [Int]? = nil) throws {
        guard tensor.rank >= 1, tensor.shape[0] == ids.count else {
            throw CacheError.tensorMismatch(column: column, id: ids.first ?? 0,
                                            reason: "batch tensor \(tensor.shape) does not have \(ids.count) rows")
        }
        let rowBytes = ids.isEmpty ? 0 : tensor.byteCount / ids.count
        var list = values[column, default: []]
        list.reserveCapacity(list.count + ids.count)
        for (row, id) in ids.enumerated() {
            var count = rowBytes
            if let lengths {
                guard row < lengths.count, tensor.rank >= 2, lengths[row] >= 0, lengths[row] <= tensor.shape[1] else {
                    throw CacheError.tensorMismatch(column: column, id: id,
                                                    reason: "length \(row < lengths.count ? lengths[row] : -1) outside 0...\(tensor.rank >= 2 ? tensor.shape[1] : 0)")
                }
                count = tensor.shape[1] == 0 ? 0 : rowBytes / tensor.shape[1] * lengths[row]
            }
            list.append(Value(id: id, tensor: tensor, byteOffset: row * rowBytes, byteCount: count))
        }
        values[column] = list
    }
}
