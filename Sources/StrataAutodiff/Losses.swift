import Foundation
import StrataTensor

extension Tape {
    /// Mean cross-entropy of `logits` (`[N, C]`) against class indices `targets` (`N` values in `0..<C`),
    /// as `nn.CrossEntropyLoss()`; computed through a stable log-softmax.
    public func crossEntropy(_ logits: Variable, targets: [Int]) throws -> Variable {
        let shape = self.shape(of: logits)
        guard shape.count == 2, shape[0] == targets.count else {
            throw AutodiffError.shapeMismatch(operation: "crossEntropy", shapes: [shape, [targets.count]])
        }
        let (rows, classes) = (shape[0], shape[1])
        if let bad = targets.first(where: { !(0..<classes).contains($0) }) {
            throw AutodiffError.invalidArgument(operation: "crossEntropy", reason: "target \(bad) outside 0..<\(classes)")
        }
        let (id, out) = output(shape: [])
        let logProbabilities = savedPointer(id, count: rows * classes)
        Tape.logSoftmaxRows(valuePointer(logits.id), rows: rows, columns: classes, out: logProbabilities)
        var total: Double = 0
        for r in 0..<rows { total -= Double(logProbabilities[r * classes + targets[r]]) }
        out[0] = Float(total / Double(max(rows, 1)))
        return record(id, inputs: [logits]) { tape in
            let scale = tape.gradPointer(id)[0] / Float(max(rows, 1))
            let (gx, lp) = (tape.gradPointer(logits.id), tape.savedBuffer(id))
            for r in 0..<rows {
                let (gr, lr) = (gx + r * classes, lp + r * classes)
                for j in 0..<classes { gr[j] += scale * expf(lr[j]) }
                gr[targets[r]] -= scale
            }
        }
    }

    /// Mean binary cross-entropy of `logits` against `targets` (same shape, values in [0, 1]), as
    /// `nn.BCEWithLogitsLoss()`: `max(x, 0) - x·t + log(1 + e^{-|x|})`, stable for any `x`.
    public func binaryCrossEntropyWithLogits(_ logits: Variable, targets: Tensor) throws -> Variable {
        let shape = self.shape(of: logits)
        guard targets.shape == shape || (targets.count == Tensor.elementCount(shape) && targets.rank == shape.count) else {
            throw AutodiffError.shapeMismatch(operation: "binaryCrossEntropyWithLogits", shapes: [shape, targets.shape])
        }
        let t = targets.floats
        let n = t.count
        let (id, out) = output(shape: [])
        let px = valuePointer(logits.id)
        var total: Double = 0
        for i in 0..<n {
            let x = px[i]
            total += Double(max(x, 0) - x * t[i] + log1pf(expf(-abs(x))))
        }
        out[0] = Float(total / Double(max(n, 1)))
        return record(id, inputs: [logits]) { tape in
            let scale = tape.gradPointer(id)[0] / Float(max(n, 1))
            let (gx, px) = (tape.gradPointer(logits.id), tape.valuePointer(logits.id))
            for i in 0..<n {
                let x = px[i]
                let s = x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
                gx[i] += scale * (s - t[i])
            }
        }
    }

    /// The temperature of a contrastive loss.
    public enum Temperature {
        /// Logits are similarities divided by this constant.
        case fixed(Float)
        /// Logits are similarities times `exp(logitScale)`, CLIP's learnable `logit_scale` (a scalar
        /// parameter, initialised to `log(1/0.07)` by `Tape.Temperature.clipInitialLogitScale`).
        case learnable(logitScale: Variable)

        /// CLIP's starting value of `logit_scale`, `log(1/0.07)`.
        public static let clipInitialLogitScale = Float(Foundation.log(1 / 0.07))
    }

    /// Symmetric InfoNCE (CLIP): L2-normalise both `[N, D]` embeddings, `logits = scale · image · textᵀ`,
    /// and average the cross-entropies of rows (image→text) and columns (text→image) against the diagonal.
    public func symmetricInfoNCE(image: Variable, text: Variable, temperature: Temperature) throws -> Variable {
        let logits = try contrastiveLogits(image: image, text: text, temperature: temperature, eps: 1e-12)
        let n = shape(of: logits)[0]
        let targets = Array(0..<n)
        let imageToText = try crossEntropy(logits, targets: targets)
        let textToImage = try crossEntropy(try transpose(logits, 0, 1), targets: targets)
        return scaled(try add(imageToText, textToImage), by: 0.5)
    }

    /// The cosine-similarity contrastive loss of the design notes (seed 004): the `[N, N]` matrix of
    /// cosine similarities between every image and every text, divided by `temperature` (0.1 there),
    /// and one cross-entropy against the diagonal (image→text only).
    ///
    /// The notes call `torch.cosine_similarity(img.unsqueeze(1), txt.unsqueeze(0))`, whose default
    /// `dim=1` reduces over the batch axis rather than the features; this is the pairwise matrix that
    /// code intends (`dim=-1`), with PyTorch's `eps = 1e-8` on each norm.
    public func cosineContrastive(image: Variable, text: Variable, temperature: Float = 0.1) throws -> Variable {
        let logits = try contrastiveLogits(image: image, text: text, temperature: .fixed(temperature), eps: 1e-8)
        return try crossEntropy(logits, targets: Array(0..<shape(of: logits)[0]))
    }

    private func contrastiveLogits(image: Variable, text: Variable, temperature: Temperature, eps: Float) throws -> Variable {
        let (si, st) = (shape(of: image), shape(of: text))
        guard si.count == 2, si == st else {
            throw AutodiffError.shapeMismatch(operation: "contrastive loss", shapes: [si, st])
        }
        let similarity = try matmul(try l2Normalize(image, eps: eps), try l2Normalize(text, eps: eps), transposeB: true)
        switch temperature {
        case let .fixed(t):
            guard t > 0 else { throw AutodiffError.invalidArgument(operation: "contrastive loss", reason: "temperature \(t) must be positive") }
            return scaled(similarity, by: 1 / t)
        case let .learnable(logitScale):
            guard Tensor.elementCount(shape(of: logitScale)) == 1 else {
                throw AutodiffError.shapeMismatch(operation: "contrastive loss logit scale", shapes: [shape(of: logitScale)])
            }
            return try multiply(similarity, exp(logitScale))
        }
    }
}
