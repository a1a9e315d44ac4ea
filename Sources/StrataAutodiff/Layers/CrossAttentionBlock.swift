import StrataTensor

/// One direction of the design notes' cross-modal interaction (seed 001's `CrossModalAttention`):
/// queries attend to a context with `nn.MultiheadAttention(dim, heads, dropout, batch_first=True)`,
/// then a residual connection and `nn.LayerNorm(dim)`. Parameters are named `attention.…` and
/// `layer_norm.…` as in that module.
public final class CrossAttentionBlock: Module {
    /// The attention (`attention.in_proj_weight`, …).
    public let attention: MultiheadAttention
    /// The post-residual normalisation (`layer_norm.weight`, `layer_norm.bias`).
    public let layerNorm: LayerNorm

    /// A block of width `dim` with `heads` heads and attention-weight dropout `dropout`.
    public init(dim: Int, heads: Int = 8, dropout: Float = 0.1, generator: inout SeededGenerator) throws {
        attention = try MultiheadAttention(embedDim: dim, heads: heads, dropout: dropout, generator: &generator)
        layerNorm = LayerNorm(dim)
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        prefixed("attention", attention) + prefixed("layer_norm", layerNorm)
    }

    /// `LayerNorm(query + attention(query, context, context))`; `contextPaddingMask` (`[B, Lk]`) is
    /// nonzero at padded context positions.
    public func forward(query: Variable, context: Variable, contextPaddingMask: Tensor? = nil,
                        on tape: Tape) throws -> Variable {
        let attended = try attention.forward(query: query, key: context, value: context,
                                             keyPaddingMask: contextPaddingMask, on: tape)
        return try layerNorm.forward(try tape.add(query, attended), on: tape)
    }
}
