import Foundation
import StrataTensor

/// BERT from a Hugging Face `BertModel` folder (`config.json` + `model.safetensors`, names with or
/// without the `bert.` prefix that task checkpoints add), sizes from the config.
///
/// Levels: `last_hidden_state` (`[N, L, H]`, padded rows included as Hugging Face computes them),
/// `hidden_state_K` (0 = embeddings, K = after layer K), each optionally `:cls` or `:mean` (masked
/// mean) to `[N, H]`; `cls` and `mean_pooled` as short forms; `pooler_output` (`[N, H]`).
public final class BERT: TextEncoder {
    public let architecture = "bert"
    /// Hidden size.
    public let hidden: Int
    /// Number of encoder layers.
    public let layers: Int
    /// Attention heads per layer.
    public let heads: Int
    /// Vocabulary size.
    public let vocabulary: Int
    /// Longest sequence the position embeddings allow.
    public let maxPositions: Int
    let typeVocabulary: Int
    let eps: Float
    let wordEmbeddings: [Float], positionEmbeddings: [Float], typeEmbeddings: [Float]
    let embeddingNormWeight: [Float], embeddingNormBias: [Float]
    let stack: [TransformerLayer]
    let pooler: DenseLayer?
    let scratch = TransformerScratch()

    /// Loads a `BertModel` folder (`config.json` and `model.safetensors`, `pytorch_model.bin` or a sharded index of
    /// either); a weights file path loads with the `config.json` beside it.
    public init(folder url: URL) throws {
        let weightsURL = try Checkpoint.weightsURL(url)
        let config = try ModelConfig(folder: weightsURL.deletingLastPathComponent())
        let source = try Checkpoint.openFile(weightsURL)
        let prefix = try Checkpoint.detectPrefix(source, probe: "embeddings.word_embeddings.weight", candidates: ["", "bert."])
        let checkpoint = Checkpoint(source: source, prefix: prefix)
        hidden = try config.int("hidden_size")
        layers = try config.int("num_hidden_layers")
        heads = try config.int("num_attention_heads")
        let intermediate = try config.int("intermediate_size", 4 * hidden)
        vocabulary = try config.int("vocab_size")
        maxPositions = try config.int("max_position_embeddings", 512)
        typeVocabulary = try config.int("type_vocab_size", 2)
        eps = Float(try config.positiveDouble("layer_norm_eps", 1e-12))
        try config.geluActivation()
        let embedding = try config.string("position_embedding_type", "absolute")
        guard embedding == "absolute" else {
            throw ModelError.badConfig(file: config.path, key: "position_embedding_type", reason: "'\(embedding)' is not supported")
        }
        guard hidden % heads == 0 else {
            throw ModelError.badConfig(file: config.path, key: "num_attention_heads",
                                       reason: "hidden_size \(hidden) does not split into \(heads) heads")
        }
        wordEmbeddings = try checkpoint.floats("embeddings.word_embeddings.weight", [vocabulary, hidden])
        positionEmbeddings = try checkpoint.floats("embeddings.position_embeddings.weight", [maxPositions, hidden])
        typeEmbeddings = try checkpoint.floats("embeddings.token_type_embeddings.weight", [typeVocabulary, hidden])
        embeddingNormWeight = try checkpoint.floats("embeddings.LayerNorm.weight", [hidden])
        embeddingNormBias = try checkpoint.floats("embeddings.LayerNorm.bias", [hidden])
        let (width, heads, eps) = (hidden, heads, eps)
        stack = try (0..<layers).map { layer in
            try TransformerLayer(checkpoint, prefix: "encoder.layer.\(layer).", names: .bert, hidden: width,
                                 intermediate: intermediate, heads: heads, eps: eps, norm: .post)
        }
        pooler = try TokenLevels.loadPooler(checkpoint, hidden: hidden)
    }

    public func validate(levels: [PyramidLevel]) throws {
        for level in levels { _ = try resolve(level) }
    }

    private func resolve(_ level: PyramidLevel) throws -> (TokenSource, PyramidLevel.Reduction) {
        try TokenLevels.resolve(level, architecture: architecture, layers: layers, hasPooler: pooler != nil,
                                hasPatches: false)
    }

    public func encode(inputIDs: Tensor, attentionMask: Tensor, tokenTypeIDs: Tensor?,
                       levels: [PyramidLevel]) throws -> [Tensor] {
        let plan = try levels.map(resolve)
        guard inputIDs.rank == 2 else {
            throw ModelError.badInput(architecture: architecture, reason: "input ids must be [N, L], got \(inputIDs.shape)")
        }
        let (batch, length) = (inputIDs.shape[0], inputIDs.shape[1])
        guard attentionMask.shape == inputIDs.shape else {
            throw ModelError.badInput(architecture: architecture,
                                      reason: "attention mask \(attentionMask.shape) differs from input ids \(inputIDs.shape)")
        }
        if let tokenTypeIDs, tokenTypeIDs.shape != inputIDs.shape {
            throw ModelError.badInput(architecture: architecture,
                                      reason: "token type ids \(tokenTypeIDs.shape) differ from input ids \(inputIDs.shape)")
        }
        guard length <= maxPositions else {
            throw ModelError.badInput(architecture: architecture, reason: "length \(length) exceeds max_position_embeddings \(maxPositions)")
        }
        let ids = inputIDs.int32s
        let mask = attentionMask.int32s
        let types = tokenTypeIDs?.int32s ?? [Int32](repeating: 0, count: ids.count)
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw ModelError.badInput(architecture: architecture, reason: "token id \(ids[bad]) at \(bad) is outside the vocabulary of \(vocabulary)")
        }
        if let bad = types.firstIndex(where: { $0 < 0 || Int($0) >= typeVocabulary }) {
            throw ModelError.badInput(architecture: architecture, reason: "token type \(types[bad]) at \(bad) is outside 0..<\(typeVocabulary)")
        }
        let rows = batch * length
        let x = scratch.hidden.floats(max(1, rows * hidden))
        embed(ids, types, batch: batch, length: length, into: x)
        var results = [Tensor?](repeating: nil, count: levels.count)
        func collect(_ source: TokenSource) {
            for (index, (wanted, reduce)) in plan.enumerated() where wanted == source {
                results[index] = TokenLevels.extract(x, batch: batch, length: length, hidden: hidden, reduce: reduce, mask: mask)
            }
        }
        collect(.hidden(0))
        let deepest = plan.map { source, _ -> Int in
            if case let .hidden(k) = source { return k }
            return layers
        }.max() ?? 0
        let keyBias = scratch.keyBias.floats(max(1, rows))
        let keyLengths = Kernels.keyBias(batch: batch, keyLength: length, into: keyBias) { mask[$0] != 0 }.lengths
        for layer in 0..<deepest {
            stack[layer].forward(x, batch: batch, length: length, keyBias: keyBias, keyLengths: keyLengths, scratch: scratch)
            collect(.hidden(layer + 1))
        }
        collect(.last)
        for (index, (source, _)) in plan.enumerated() where source == .pooler {
            if let pooler {
                results[index] = TokenLevels.pooler(x, batch: batch, length: length, hidden: hidden, dense: pooler)
            }
        }
        return results.map { $0 ?? Tensor(zeros: [0]) }
    }

    /// Word + position + token type embeddings, then layer norm.
    private func embed(_ ids: [Int32], _ types: [Int32], batch: Int, length: Int, into x: UnsafeMutablePointer<Float>) {
        let h = hidden
        wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                typeEmbeddings.withUnsafeBufferPointer { typeRows in
                    guard let words = words.baseAddress, let positions = positions.baseAddress,
                          let typeRows = typeRows.baseAddress else { return }
                    for b in 0..<batch {
                        for l in 0..<length {
                            let index = b * length + l
                            let out = x + index * h
                            let word = words + Int(ids[index]) * h
                            let position = positions + l * h
                            let type = typeRows + Int(types[index]) * h
                            for j in 0..<h { out[j] = word[j] + type[j] + position[j] }
                        }
                    }
                }
            }
        }
        embeddingNormWeight.withUnsafeBufferPointer { w in
            embeddingNormBias.withUnsafeBufferPointer { b in
                Kernels.layerNormRows(x, rows: batch * length, columns: h, weight: w.baseAddress, bias: b.baseAddress,
                                      eps: eps, out: x)
            }
        }
    }
}
