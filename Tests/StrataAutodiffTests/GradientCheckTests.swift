import StrataTensor
import StrataTestExpectations
import Testing
@testable import StrataAutodiff

/// Every differentiable operation against central finite differences on small shapes.
@Suite("Gradients vs finite differences")
struct GradientCheckTests {
    @Test("the checker catches a wrong backward rule")
    func checkerFailsOnWrongGradient() throws {
        let x = randomTensor([3, 4], seed: 1)
        withKnownIssue {
            try checkGradients([x], label: "x² with backward 3x") { tape, v in
                tape.unary(v[0], forward: { y, n in for i in 0..<n { y[i] *= y[i] } },
                           backward: { x, _, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * 3 * x[i] } })
            }
        }
        // And the same op with the right rule passes.
        try checkGradients([x], label: "x² with backward 2x") { tape, v in
            tape.unary(v[0], forward: { y, n in for i in 0..<n { y[i] *= y[i] } },
                       backward: { x, _, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * 2 * x[i] } })
        }
    }

    @Test("matmul, plain, transposed and batched")
    func matmul() throws {
        let a = randomTensor([3, 4], seed: 2), b = randomTensor([4, 5], seed: 3)
        try checkGradients([a, b], label: "matmul") { try $0.matmul($1[0], $1[1]) }
        let at = randomTensor([4, 3], seed: 4), bt = randomTensor([5, 4], seed: 5)
        try checkGradients([at, bt], label: "matmul ᵀᵀ") { try $0.matmul($1[0], $1[1], transposeA: true, transposeB: true) }
        let a3 = randomTensor([2, 3, 4], seed: 6), b3 = randomTensor([2, 4, 2], seed: 7)
        try checkGradients([a3, b3], label: "batched matmul") { try $0.matmul($1[0], $1[1]) }
        try checkGradients([a3, bt], label: "batched × shared 2-D") { try $0.matmul($1[0], $1[1], transposeB: true) }
        try checkGradients([at, b3], label: "shared 2-D × batched") { try $0.matmul($1[0], $1[1], transposeA: true) }
    }

    @Test("linear with bias, and on a row block of the weight")
    func linear() throws {
        let x = randomTensor([2, 3, 4], seed: 8), w = randomTensor([6, 4], seed: 9), b = randomTensor([6], seed: 10)
        try checkGradients([x, w, b], label: "linear") { try $0.linear($1[0], weight: $1[1], bias: $1[2]) }
        try checkGradients([x, w, b], label: "linear rows 2..<5") { try $0.linear($1[0], weight: $1[1], bias: $1[2], rows: 2..<5) }
        try checkGradients([x, w], label: "linear without bias") { try $0.linear($1[0], weight: $1[1], bias: nil) }
    }

    @Test("add, subtract, multiply, divide with broadcasting")
    func broadcasting() throws {
        let a = randomTensor([2, 3, 4], seed: 11), row = randomTensor([4], seed: 12)
        let column = randomTensor([2, 1, 4], seed: 13), scalar = randomTensor([], seed: 14)
        let positive = randomTensor([3, 1], seed: 15, scale: 0.3, awayFromZero: 0).floats.map { 1.5 + $0 }
        let divisor = try Tensor(shape: [3, 1], floats: positive)
        try checkGradients([a, row], label: "add [2,3,4]+[4]") { try $0.add($1[0], $1[1]) }
        try checkGradients([a, column], label: "subtract [2,3,4]-[2,1,4]") { try $0.subtract($1[0], $1[1]) }
        try checkGradients([column, a], label: "multiply [2,1,4]·[2,3,4]") { try $0.multiply($1[0], $1[1]) }
        try checkGradients([a, scalar], label: "multiply by scalar") { try $0.multiply($1[0], $1[1]) }
        try checkGradients([a, divisor], label: "divide [2,3,4]/[3,1]") { try $0.divide($1[0], $1[1]) }
    }

    @Test("element-wise activations and exp, log, scale, shift")
    func activations() throws {
        let x = randomTensor([3, 5], seed: 16, awayFromZero: 0.05)
        try checkGradients([x], label: "relu") { t, v in t.relu(v[0]) }
        try checkGradients([x], label: "gelu") { t, v in t.gelu(v[0]) }
        try checkGradients([x], label: "tanh") { t, v in t.tanh(v[0]) }
        try checkGradients([x], label: "sigmoid") { t, v in t.sigmoid(v[0]) }
        try checkGradients([x], label: "exp") { t, v in t.exp(v[0]) }
        try checkGradients([x], label: "scaled") { t, v in t.scaled(v[0], by: -2.5) }
        try checkGradients([x], label: "shifted") { t, v in t.shifted(v[0], by: 4) }
        let positive = try Tensor(shape: [3, 5], floats: x.floats.map { abs($0) + 0.5 })
        try checkGradients([positive], label: "log") { t, v in t.log(v[0]) }
    }

    @Test("softmax and log-softmax, including large logits")
    func softmax() throws {
        let x = randomTensor([4, 6], seed: 17, scale: 2)
        try checkGradients([x], label: "softmax") { try $0.softmax($1[0]) }
        try checkGradients([x], label: "logSoftmax") { try $0.logSoftmax($1[0]) }
        // Shift invariance at ±1000, where a naive exp overflows: values and gradients equal those of
        // the shifted small logits.
        let large = try Tensor(shape: [2, 3], floats: [1000, 1001, 999, -1000, -1002, -999])
        let small = try Tensor(shape: [2, 3], floats: [0, 1, -1, 0, -2, 1])
        let seed = randomTensor([2, 3], seed: 5)
        func run(_ x: Tensor, _ op: (Tape, Variable) throws -> Variable) throws -> (Tensor, Tensor?) {
            let tape = Tape()
            let v = tape.input(x)
            let y = try op(tape, v)
            try tape.backward(y, seed: seed)
            return (tape.value(of: y), tape.gradient(of: v))
        }
        for (name, op) in [("softmax", { (t: Tape, v: Variable) in try t.softmax(v) }),
                           ("logSoftmax", { (t: Tape, v: Variable) in try t.logSoftmax(v) })] {
            let (bigValue, bigGrad) = try run(large, op)
            let (smallValue, smallGrad) = try run(small, op)
            expectMatches(bigValue, smallValue, "\(name) value at ±1000")
            expectMatches(bigGrad, try #require(smallGrad), "\(name) gradient at ±1000")
        }
    }

    @Test("layer norm with and without affine parameters")
    func layerNorm() throws {
        let x = randomTensor([3, 6], seed: 18, scale: 2), w = randomTensor([6], seed: 19), b = randomTensor([6], seed: 20)
        try checkGradients([x, w, b], label: "layerNorm") { try $0.layerNorm($1[0], weight: $1[1], bias: $1[2]) }
        try checkGradients([x], label: "layerNorm plain") { try $0.layerNorm($1[0], weight: nil, bias: nil) }
    }

    @Test("dropout with a fixed mask")
    func dropout() throws {
        let x = randomTensor([4, 8], seed: 21)
        try checkGradients([x], training: true, label: "dropout") { try $0.dropout($1[0], p: 0.3) }
    }

    @Test("concatenation, slicing, reshape, transpose, permute")
    func shapes() throws {
        let a = randomTensor([2, 3, 4], seed: 22), b = randomTensor([2, 1, 4], seed: 23)
        try checkGradients([a, b], label: "concat axis 1") { try $0.concat([$1[0], $1[1]], axis: 1) }
        try checkGradients([a, a], label: "concat last axis") { try $0.concat([$1[0], $1[1]], axis: -1) }
        try checkGradients([a], label: "slice") { try $0.slice($1[0], axis: 2, 1..<3) }
        try checkGradients([a], label: "reshape") { t, v in try t.multiply(t.reshape(v[0], [6, -1]), t.reshape(v[0], [6, 4])) }
        try checkGradients([a], label: "transpose") { try $0.transpose($1[0], 0, 2) }
        try checkGradients([a], label: "permute") { try $0.permute($1[0], [1, 2, 0]) }
    }

    @Test("sum and mean, whole and along an axis; masked mean")
    func reductions() throws {
        let x = randomTensor([2, 3, 4], seed: 24)
        try checkGradients([x], label: "sum") { t, v in t.sum(v[0]) }
        try checkGradients([x], label: "mean") { t, v in t.mean(v[0]) }
        try checkGradients([x], label: "sum axis 1") { try $0.sum($1[0], axis: 1) }
        try checkGradients([x], label: "mean axis -1 keepDims") { try $0.mean($1[0], axis: -1, keepDims: true) }
        let mask = try Tensor(shape: [2, 3], int32s: [1, 0, 1, 0, 0, 0])
        try checkGradients([x], label: "maskedMean") { try $0.maskedMean($1[0], mask: mask) }
    }

    @Test("L2 normalisation")
    func l2Normalize() throws {
        let x = randomTensor([3, 5], seed: 25)
        try checkGradients([x], label: "l2Normalize") { try $0.l2Normalize($1[0]) }
    }

    @Test("multi-head attention with a key padding mask and with dropout")
    func attention() throws {
        let q = randomTensor([2, 3, 8], seed: 26), k = randomTensor([2, 4, 8], seed: 27), v = randomTensor([2, 4, 8], seed: 28)
        let padding = try Tensor(shape: [2, 4], int32s: [0, 0, 1, 1, 0, 0, 0, 1])
        try checkGradients([q, k, v], label: "attention") {
            try $0.attention(query: $1[0], key: $1[1], value: $1[2], heads: 2, keyMask: .ignore(padding))
        }
        try checkGradients([q, k, v], training: true, label: "attention with dropout") {
            try $0.attention(query: $1[0], key: $1[1], value: $1[2], heads: 4, dropout: 0.25)
        }
    }

    @Test("losses: cross-entropy, BCE with logits, InfoNCE (fixed and learnable), cosine contrastive")
    func losses() throws {
        let logits = randomTensor([4, 5], seed: 29, scale: 2)
        try checkGradients([logits], label: "crossEntropy") { try $0.crossEntropy($1[0], targets: [1, 0, 4, 4]) }
        let targets = try Tensor(shape: [4, 5], floats: (0..<20).map { Float($0 % 3) / 2 })
        try checkGradients([logits], label: "bceWithLogits") { try $0.binaryCrossEntropyWithLogits($1[0], targets: targets) }
        let image = randomTensor([4, 6], seed: 30), text = randomTensor([4, 6], seed: 31)
        let scale = try Tensor(shape: [], floats: [1.5])
        try checkGradients([image, text, scale], label: "InfoNCE learnable") {
            try $0.symmetricInfoNCE(image: $1[0], text: $1[1], temperature: .learnable(logitScale: $1[2]))
        }
        try checkGradients([image, text], label: "InfoNCE fixed") {
            try $0.symmetricInfoNCE(image: $1[0], text: $1[1], temperature: .fixed(0.5))
        }
        try checkGradients([image, text], label: "cosine contrastive") {
            try $0.cosineContrastive(image: $1[0], text: $1[1], temperature: 0.5)
        }
    }
}
