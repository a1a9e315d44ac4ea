import Foundation
import StrataAutodiff
import StrataTensor

/// `bench/run train [STEPS]`: forward + backward + AdamW step of a cross-attention block (dim 768,
/// 8 heads, dropout 0.1, batch 64, 32 text tokens attending to 49 image tokens, residual + LayerNorm,
/// loss mean(out · target)) in Strata and in PyTorch fp32, both on 2 threads, steps/s and the ratio.
enum TrainBench {
    static let (dim, heads, batch, textLength, imageLength) = (768, 8, 64, 32, 49)

    static func run(_ arguments: [String]) throws {
        let steps = arguments.first.flatMap(Int.init) ?? 10
        let threads = 2
        Kernels.setBLASThreads(threads)
        var generator = SeededGenerator(seed: 0)
        let block = try CrossAttentionBlock(dim: dim, heads: heads, dropout: 0.1, generator: &generator)
        let optimizer = AdamW(block.namedParameters, learningRate: 1e-4, weightDecay: 0.01)
        let text = normal([batch, textLength, dim], &generator)
        let image = normal([batch, imageLength, dim], &generator)
        let target = normal([batch, textLength, dim], &generator)
        let tape = Tape(training: true, seed: 1)
        var lastLoss: Float = 0
        func step() throws {
            tape.reset()
            optimizer.zeroGradients()
            let out = try block.forward(query: tape.constant(text), context: tape.constant(image), on: tape)
            let loss = tape.mean(try tape.multiply(out, tape.constant(target)))
            try tape.backward(loss)
            lastLoss = tape.scalar(loss)
            try optimizer.step()
        }
        for _ in 0..<2 { try step() }
        let seconds = try Stopwatch.time { for _ in 0..<steps { try step() } }
        let strata = Double(steps) / seconds
        guard lastLoss.isFinite else { throw Peer.Failure(description: "the Strata loss is \(lastLoss)") }

        let peer = try Peer.run("train.py", [String(steps), String(threads)])
        guard let torch = peer["steps_per_second"] as? Double else {
            throw Peer.Failure(description: "train.py printed no steps_per_second")
        }
        print("train: cross-attention block fwd+bwd+AdamW, dim \(dim), \(heads) heads, batch \(batch), "
              + "\(textLength) text x \(imageLength) image tokens, \(threads) threads, \(steps) steps")
        print(String(format: "  Strata   %.3f steps/s", strata))
        print(String(format: "  PyTorch  %.3f steps/s (torch %@)", torch, "\(peer["torch"] ?? "?")"))
        print(String(format: "  ratio    %.2fx", strata / torch))
    }

    static func normal(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        var tensor = Tensor(zeros: shape)
        tensor.withUnsafeMutableFloats { p in
            for i in 0..<p.count { p[i] = generator.nextNormal() }
        }
        return tensor
    }
}
