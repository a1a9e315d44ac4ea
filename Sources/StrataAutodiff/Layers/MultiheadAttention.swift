import StrataTensor

/// `nn.MultiheadAttention(embedDim, numHeads, dropout, batch_first=True)` with the same parameters:
/// `in_proj_weight` `[3E, E]` (query, key and value projections stacked), `in_proj_bias` `[3E]`,
/// `out_proj.weight` `[E, E]` and `out_proj.bias` `[E]`.
public final class MultiheadAttention: Module {
    /// `E`.
    public let embedDim: Int
    /// Number of heads; `E` must divide by it.
    public let heads: Int
    /// Dropout on the attention weights while training.
    public let dropout: Float
    /// `[3E, E]`, Xavier-uniform initialised.
    public let inProjWeight: Parameter
    /// `[3E]`, zeros.
    public let inProjBias: Parameter
    /// The output projection (`out_proj`), weight uniform in `±1/√E`, bias zeros.
    public let outProj: Linear

    /// An attention module initialised as PyTorch does (Xavier-uniform in-projection, zero biases).
    public init(embedDim: Int, heads: Int = 8, dropout: Float = 0.1, generator: inout SeededGenerator) throws {
        guard heads >= 1, embedDim % heads == 0 else {
            throw AutodiffError.invalidArgument(operation: "MultiheadAttention",
                                             reason: "embed dim \(embedDim) does not split into \(heads) heads")
        }
        self.embedDim = embedDim
        self.heads = heads
        self.dropout = dropout
        let xavier = (6 / Float(embedDim + 3 * embedDim)).squareRoot()
        inProjWeight = Parameter(Initializer.uniform([3 * embedDim, embedDim], bound: xavier, generator: &generator))
        inProjBias = Parameter(Initializer.filled([3 * embedDim], 0))
        outProj = Linear(embedDim, embedDim, generator: &generator)
        if let bias = outProj.bias { bias.value = Initializer.filled([embedDim], 0) }
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("in_proj_weight", inProjWeight), ("in_proj_bias", inProjBias)] + prefixed("out_proj", outProj)
    }

    /// `attn_output` of `forward(query, key, value, key_padding_mask=…)` (`[B, Lq, E]`); `keyPaddingMask`
    /// is `[B, Lk]`, nonzero (True) at padded keys as in PyTorch.
    public func forward(query: Variable, key: Variable, value: Variable, keyPaddingMask: Tensor? = nil,
                        on tape: Tape) throws -> Variable {
        let weight = tape.parameter(inProjWeight)
        let bias = tape.parameter(inProjBias)
        let e = embedDim
        let q = try tape.linear(query, weight: weight, bias: bias, rows: 0..<e)
        let k = try tape.linear(key, weight: weight, bias: bias, rows: e..<(2 * e))
        let v = try tape.linear(value, weight: weight, bias: bias, rows: (2 * e)..<(3 * e))
        let attended = try tape.attention(query: q, key: k, value: v, heads: heads,
                                          keyMask: keyPaddingMask.map { KeyMask.ignore($0) }, dropout: dropout)
        return try outProj.forward(attended, on: tape)
    }
}
