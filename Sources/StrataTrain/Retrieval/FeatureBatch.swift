import StrataTensor

/// Token-level features of a batch, as heads consume them: `values` `[B, L, W]` (a pooled feature
/// is one token, a `[C, H, W]` map is `H·W` tokens of width `C`) and, when rows have different lengths,
/// `mask` `[B, L]` (`f32`, 1 at real tokens, 0 at padding).
public struct FeatureBatch {
    /// `[B, L, W]`, zero-padded.
    public var values: Tensor
    /// `[B, L]`, or nil when every row has all `L` tokens.
    public var mask: Tensor?

    /// A batch of `values` with an optional padding mask.
    public init(values: Tensor, mask: Tensor?) {
        self.values = values
        self.mask = mask
    }

    /// Rows in the batch.
    public var count: Int { values.shape[0] }
    /// Longest token count.
    public var length: Int { values.shape[1] }
    /// Feature width.
    public var width: Int { values.shape[2] }

    /// A real-token mask turned into a padding mask (1 where the mask is 0).
    static func paddingMask(_ mask: Tensor) -> Tensor? {
        try? Tensor(shape: mask.shape, floats: mask.floats.map { $0 == 0 ? 1 : 0 })
    }
}

/// The inputs of one head call: a feature batch per column the head reads.
public struct PairInputs {
    /// Image feature batches by column name.
    public var images: [String: FeatureBatch]
    /// Text feature batches by column name.
    public var texts: [String: FeatureBatch]

    /// Inputs made of the given batches.
    public init(images: [String: FeatureBatch], texts: [String: FeatureBatch]) {
        self.images = images
        self.texts = texts
    }

    /// The image batch of `column`.
    public func image(_ column: String) throws -> FeatureBatch {
        guard let batch = images[column] else {
            throw TrainError.invalidArgument(operation: "head input", reason: "image column '\(column)' was not loaded")
        }
        return batch
    }

    /// The text batch of `column`.
    public func text(_ column: String) throws -> FeatureBatch {
        guard let batch = texts[column] else {
            throw TrainError.invalidArgument(operation: "head input", reason: "text column '\(column)' was not loaded")
        }
        return batch
    }
}
