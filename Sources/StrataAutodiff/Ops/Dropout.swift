import StrataTensor

extension Tape {
    /// Inverted dropout: while training, zeroes each element with probability `p` and scales the rest by
    /// `1/(1-p)`; in evaluation mode (or `p == 0`) the identity. Masks come from the tape's seeded
    /// `generator`, so a run repeats exactly.
    public func dropout(_ x: Variable, p: Float) throws -> Variable {
        guard p >= 0, p < 1 else {
            throw AutodiffError.invalidArgument(operation: "dropout", reason: "probability \(p) outside [0, 1)")
        }
        if !isTraining || p == 0 { return x }
        let shape = self.shape(of: x)
        let n = Tensor.elementCount(shape)
        let (id, out) = output(shape: shape)
        let mask = savedPointer(id, count: n)
        Tape.fillDropoutMask(mask, count: n, p: p, generator: &generator)
        let px = valuePointer(x.id)
        for i in 0..<n { out[i] = px[i] * mask[i] }
        return record(id, inputs: [x]) { tape in
            let (g, gx, mask) = (tape.gradPointer(id), tape.gradPointer(x.id), tape.savedBuffer(id))
            for i in 0..<n { gx[i] += g[i] * mask[i] }
        }
    }

    /// Writes `count` dropout multipliers: 0 with probability `p`, else `1/(1-p)`.
    static func fillDropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Float,
                                generator: inout SeededGenerator) {
        let keep = 1 / (1 - p)
        // Two 24-bit uniforms per 64-bit draw.
        var i = 0
        while i < count {
            let bits = generator.next()
            let u0 = Float(bits >> 40) * (1 / 16_777_216)
            mask[i] = u0 < p ? 0 : keep
            if i + 1 < count {
                let u1 = Float((bits >> 8) & 0xFF_FFFF) * (1 / 16_777_216)
                mask[i + 1] = u1 < p ? 0 : keep
            }
            i += 2
        }
    }
}
