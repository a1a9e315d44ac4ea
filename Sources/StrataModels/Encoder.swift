import Foundation
import StrataTensor

/// One level of a feature pyramid: which encoder output to keep and how to shrink it before caching.
///
/// Written `OUTPUT`, `OUTPUT:pool7x7`, `OUTPUT:cls` or `OUTPUT:mean`, e.g. `layer2:pool7x7` (ResNet C3
/// average-pooled to a 7x7 grid) or `last_hidden_state:mean` (BERT's mask-weighted mean over tokens).
public struct PyramidLevel: Sendable, Hashable, CustomStringConvertible {
    /// How a level is reduced after the encoder computed it.
    public enum Reduction: String, Sendable, Hashable {
        /// Kept as computed (token levels keep every token).
        case none
        /// The first token (BERT's and ViT's `[CLS]`).
        case cls
        /// The mean over the tokens the attention mask keeps.
        case mean
    }

    /// The encoder output: `layer1`...`layer4`, `avgpool`, `fc` (ResNet); `last_hidden_state`,
    /// `hidden_state_K`, `pooler_output`, `patch_tokens` (ViT); `last_hidden_state`, `hidden_state_K`,
    /// `pooler_output` (BERT).
    public var output: String
    /// Adaptive average pooling of a [C, H, W] map to this grid (height, width), if any.
    public var pool: [Int]?
    /// Token reduction, if any.
    public var reduce: Reduction

    /// A level from its parts.
    public init(output: String, pool: [Int]? = nil, reduce: Reduction = .none) {
        self.output = output
        self.pool = pool
        self.reduce = reduce
    }

    /// The written form, e.g. `layer2:pool7x7`.
    public var description: String {
        if let pool, pool.count == 2 { return "\(output):pool\(pool[0])x\(pool[1])" }
        if reduce != .none { return "\(output):\(reduce.rawValue)" }
        return output
    }
}

/// A frozen image encoder that returns a pyramid of features for a batch of preprocessed images.
///
/// An encoder keeps preallocated buffers, so one instance is used by one thread at a time.
public protocol ImageEncoder: AnyObject {
    /// The architecture, e.g. `resnet50` or `vit`.
    var architecture: String { get }
    /// Throws a clear error for a level this encoder cannot produce.
    func validate(levels: [PyramidLevel]) throws
    /// Encodes pixels `[N, 3, H, W]` (f32, normalized) and returns one f32 tensor per level, in the
    /// order given, each with leading dimension N.
    func encode(pixels: Tensor, levels: [PyramidLevel]) throws -> [Tensor]
}

/// A frozen text encoder that returns a pyramid of features for a batch of tokenized captions.
///
/// An encoder keeps preallocated buffers, so one instance is used by one thread at a time.
public protocol TextEncoder: AnyObject {
    /// The architecture, e.g. `bert`.
    var architecture: String { get }
    /// Throws a clear error for a level this encoder cannot produce.
    func validate(levels: [PyramidLevel]) throws
    /// Encodes token ids `[N, L]` (i32) with their attention mask `[N, L]` (i32, 1 = token, 0 = pad)
    /// and optional token type ids, and returns one f32 tensor per level in the order given: token
    /// levels as `[N, L, H]` (padded rows included), reduced levels and the pooler as `[N, H]`.
    func encode(inputIDs: Tensor, attentionMask: Tensor, tokenTypeIDs: Tensor?, levels: [PyramidLevel]) throws -> [Tensor]
}
