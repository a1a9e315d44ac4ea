import CFMAPeak
import Foundation
import StrataTensor

/// `bench/run gemm [--quick]`: sgemm GFLOP/s on the shapes of ResNet-50's convolutions (as `conv2d`
/// runs them, 224x224 input, batch 8) and of ViT-B/16 / BERT-base's projections, on 1 and 2
/// threads, next to the machine's measured FMA peak and torch.matmul on the same shapes; then
/// milliseconds per `conv2d` call (bias + ReLU) for one convolution of each ResNet-50 stage against
/// torch's conv2d.
///
/// Profiling aids (Strata alone, no peer): `--strata-conv-only` times the convolutions, `--strata-ops-only`
/// the element-wise kernels, pooling and attention at one ViT-B/16 layer's sizes.
enum GemmBench {
    struct GemmShape {
        let name: String, m: Int, n: Int, k: Int, transB: Bool, batch: Int
        var flops: Double { 2 * Double(batch * m * n * k) }
        var json: [String: Any] { ["name": name, "m": m, "n": n, "k": k, "transB": transB, "batch": batch] }
    }

    struct ConvShape {
        let name: String, input: [Int], weight: [Int], stride: Int, padding: Int
        var json: [String: Any] { ["name": name, "input": input, "weight": weight, "stride": stride, "padding": padding] }
    }

    /// Conv gemms are `W[Cout, Cin·k·k] · columns[Cin·k·k, images·Hout·Wout]`, as `conv2d` runs them at batch
    /// 8: one image per product down to 14x14 maps, all 8 images side by side at 7x7.
    static let gemmShapes: [GemmShape] = [
        GemmShape(name: "r50 stem 7x7/2 (64x12544x147)", m: 64, n: 12544, k: 147, transB: false, batch: 1),
        GemmShape(name: "r50 l1 3x3 (64x3136x576)", m: 64, n: 3136, k: 576, transB: false, batch: 1),
        GemmShape(name: "r50 l1 1x1 64>256 (256x3136x64)", m: 256, n: 3136, k: 64, transB: false, batch: 1),
        GemmShape(name: "r50 l1 1x1 256>64 (64x3136x256)", m: 64, n: 3136, k: 256, transB: false, batch: 1),
        GemmShape(name: "r50 l2 3x3 (128x784x1152)", m: 128, n: 784, k: 1152, transB: false, batch: 1),
        GemmShape(name: "r50 l3 3x3 (256x196x2304)", m: 256, n: 196, k: 2304, transB: false, batch: 1),
        GemmShape(name: "r50 l3 1x1 256>1024 (1024x196x256)", m: 1024, n: 196, k: 256, transB: false, batch: 1),
        GemmShape(name: "r50 l4 3x3 (512x392x4608)", m: 512, n: 392, k: 4608, transB: false, batch: 1),
        GemmShape(name: "r50 l4 1x1 2048>512 (512x392x2048)", m: 512, n: 392, k: 2048, transB: false, batch: 1),
        GemmShape(name: "vit qkv [1576,768]x[768,2304]", m: 1576, n: 2304, k: 768, transB: true, batch: 1),
        GemmShape(name: "vit proj [1576,768]x[768,768]", m: 1576, n: 768, k: 768, transB: true, batch: 1),
        GemmShape(name: "vit mlp up [1576,768]x[768,3072]", m: 1576, n: 3072, k: 768, transB: true, batch: 1),
        GemmShape(name: "vit mlp down [1576,3072]x[3072,768]", m: 1576, n: 768, k: 3072, transB: true, batch: 1),
        GemmShape(name: "vit scores 96x[197,64]x[64,197]", m: 197, n: 197, k: 64, transB: true, batch: 96),
        GemmShape(name: "vit attn·V 96x[197,197]x[197,64]", m: 197, n: 64, k: 197, transB: false, batch: 96),
        GemmShape(name: "bert mlp up [1024,768]x[768,3072]", m: 1024, n: 3072, k: 768, transB: true, batch: 1),
    ]

    /// One 3x3 (and a 1x1) convolution per ResNet-50 stage, batch 8 at 224x224, with bias and ReLU.
    static let convShapes: [ConvShape] = [
        ConvShape(name: "stem 7x7/2 3>64 @224", input: [8, 3, 224, 224], weight: [64, 3, 7, 7], stride: 2, padding: 3),
        ConvShape(name: "l1 3x3 64>64 @56", input: [8, 64, 56, 56], weight: [64, 64, 3, 3], stride: 1, padding: 1),
        ConvShape(name: "l1 1x1 64>256 @56", input: [8, 64, 56, 56], weight: [256, 64, 1, 1], stride: 1, padding: 0),
        ConvShape(name: "l2 3x3/2 128>128 @56", input: [8, 128, 56, 56], weight: [128, 128, 3, 3], stride: 2, padding: 1),
        ConvShape(name: "l3 3x3 256>256 @14", input: [8, 256, 14, 14], weight: [256, 256, 3, 3], stride: 1, padding: 1),
        ConvShape(name: "l4 3x3 512>512 @7", input: [8, 512, 7, 7], weight: [512, 512, 3, 3], stride: 1, padding: 1),
        ConvShape(name: "l4 1x1 2048>512 @7", input: [8, 2048, 7, 7], weight: [512, 2048, 1, 1], stride: 1, padding: 0),
    ]

    static func run(_ arguments: [String]) throws {
        let quick = arguments.contains("--quick")
        if arguments.contains("--strata-conv-only") {
            // Strata's conv timings alone (for profiling), 1 thread.
            Kernels.setBLASThreads(1)
            let only = arguments.filter { !$0.hasPrefix("--") }
            for shape in convShapes where only.isEmpty || only.contains(where: shape.name.contains) {
                print(shape.name, String(format: "%.2f ms", try timeConv(shape, budget: 1) * 1e3))
            }
            return
        }
        if arguments.contains("--strata-ops-only") {
            try timeElementwise()
            return
        }
        let seconds = quick ? 0.08 : 0.25
        let threads = [1, 2]
        let peer = try Peer.run("gemm.py", [String(decoding: try JSONSerialization.data(withJSONObject: [
            "threads": threads, "seconds": seconds,
            "gemm": gemmShapes.map(\.json), "conv": convShapes.map(\.json),
        ] as [String: Any]), as: UTF8.self)])
        let torchGemm = peer["gemm"] as? [String: Double] ?? [:]
        let torchConv = peer["conv"] as? [String: Double] ?? [:]
        let peak = FMAPeak.measure()
        print(peak.description)
        print(SgemmPeak.report())
        print("torch \(peer["torch"] ?? "?") vs Strata on \(GemmBackend.description); best of repeated runs, timed in CPU time of the")
        print("calling thread at 1 thread (the machine is shared) and in wall-clock time at 2 threads\n")

        print("sgemm GFLOP/s".padding(toLength: 40, withPad: " ", startingAt: 0)
              + threads.map { "  strata@\($0)  torch@\($0)  ratio  %peak" }.joined())
        var best = 0.0
        for shape in gemmShapes {
            var line = shape.name.padding(toLength: 40, withPad: " ", startingAt: 0)
            for t in threads {
                Kernels.setBLASThreads(t)
                let gflops = shape.flops / timeGemm(shape, budget: seconds) / 1e9
                best = max(best, gflops / Double(t))
                let theirs = torchGemm["\(shape.name)@\(t)"] ?? .nan
                line += String(format: "  %9.1f  %8.1f  %5.2f  %4.0f%%", gflops, theirs, gflops / theirs,
                               100 * gflops / (peak.perCore * Double(t)))
            }
            print(line)
        }
        print(String(format: "\nbest single-core sgemm here: %.1f GFLOP/s, %.0f%% of one core's FMA peak", best, 100 * best / peak.perCore))

        print("\nconv2d + bias + ReLU, ms per call (batch 8)".padding(toLength: 41, withPad: " ", startingAt: 0)
              + threads.map { "  strata@\($0)  torch@\($0)  ratio" }.joined())
        for shape in convShapes {
            var line = shape.name.padding(toLength: 40, withPad: " ", startingAt: 0)
            for t in threads {
                Kernels.setBLASThreads(t)
                let ms = try timeConv(shape, budget: seconds) * 1e3
                let theirs = torchConv["\(shape.name)@\(t)"] ?? .nan
                line += String(format: "  %9.2f  %8.2f  %5.2f", ms, theirs, theirs / ms)
            }
            print(line)
        }
        print("\nratio: strata/torch for GFLOP/s, torch/strata for ms (above 1 means Strata is faster)")
    }

    static func timeGemm(_ shape: GemmShape, budget: Double) -> Double {
        let a = randomFloats(shape.batch * shape.m * shape.k)
        let b = randomFloats(shape.batch * shape.k * shape.n)
        var c = [Float](repeating: 0, count: shape.batch * shape.m * shape.n)
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let pa = pa.baseAddress, let pb = pb.baseAddress, let pc = pc.baseAddress else { return .nan }
                    return Stopwatch.bestWithin(budget, threadTime: Kernels.blasThreads == 1) {
                        Kernels.gemmStridedBatched(transposeA: false, transposeB: shape.transB,
                                                   m: shape.m, n: shape.n, k: shape.k,
                                                   a: pa, lda: shape.k, strideA: shape.m * shape.k,
                                                   b: pb, ldb: shape.transB ? shape.k : shape.n, strideB: shape.k * shape.n,
                                                   c: pc, ldc: shape.n, strideC: shape.m * shape.n, batchCount: shape.batch)
                    }
                }
            }
        }
    }

    static func timeConv(_ shape: ConvShape, budget: Double) throws -> Double {
        let x = try Tensor(shape: shape.input, floats: randomFloats(shape.input.reduce(1, *)))
        let w = try Tensor(shape: shape.weight, floats: randomFloats(shape.weight.reduce(1, *)))
        let bias = try Tensor(shape: [shape.weight[0]], floats: randomFloats(shape.weight[0]))
        var out = Tensor(zeros: [0])
        let workspace = Workspace()
        // Packed once, as ResNet-50 packs its weights at load.
        let packed = try PackedMatrix.pack(w, side: .left)
        var failure: Error?
        let seconds = Stopwatch.bestWithin(budget, threadTime: Kernels.blasThreads == 1) {
            do {
                try Kernels.conv2d(x, weight: w, bias: bias, stride: Size2D(shape.stride, shape.stride),
                                   padding: Size2D(shape.padding, shape.padding), activation: .relu,
                                   packedWeight: packed, into: &out, workspace: workspace)
            } catch { failure = error }
        }
        if let failure { throw failure }
        return seconds
    }

    /// Strata's element-wise kernels alone at one ViT-B/16 layer's sizes (batch 8), for profiling.
    static func timeElementwise() throws {
        var hidden = try Tensor(shape: [1576, 3072], floats: randomFloats(1576 * 3072).map { $0 * 4 })
        var scores = try Tensor(shape: [96, 197, 197], floats: randomFloats(96 * 197 * 197).map { $0 * 8 })
        var tokens = try Tensor(shape: [1576, 768], floats: randomFloats(1576 * 768))
        let gamma = try Tensor(shape: [768], floats: randomFloats(768))
        let reset = hidden
        var failure: Error?
        func report(_ name: String, _ body: () throws -> Void) {
            let seconds = Stopwatch.bestWithin(0.5, threadTime: true) {
                do { try body() } catch { failure = error }
            }
            print(name, String(format: "%.2f ms", seconds * 1e3))
        }
        report("gelu [1576, 3072]") { hidden = reset; try Kernels.geluInPlace(&hidden) }
        report("copy [1576, 3072]") { hidden = reset; try Kernels.reluInPlace(&hidden) }
        report("softmax [96, 197, 197]") { try Kernels.softmaxInPlace(&scores) }
        report("layerNorm [1576, 768]") { try Kernels.layerNormInPlace(&tokens, weight: gamma, bias: gamma) }
        let stem = try Tensor(shape: [8, 64, 112, 112], floats: randomFloats(8 * 64 * 112 * 112))
        var pooled = Tensor(zeros: [0])
        report("maxPool2d 3/2/1 [8, 64, 112, 112]") { try Kernels.maxPool2d(stem, kernel: 3, stride: 2, padding: 1, into: &pooled) }
        let qkv = try Tensor(shape: [8, 197, 2304], floats: randomFloats(8 * 197 * 2304))
        var context = Tensor(zeros: [0])
        let workspace = Workspace()
        Kernels.setBLASThreads(1)
        report("attention packed [8, 197, 3x768] 12 heads") {
            try Kernels.attention(packedQKV: qkv, heads: 12, into: &context, workspace: workspace)
        }
        if let failure { throw failure }
    }

    /// Uniform values in [-1, 1) from a fixed-seed xorshift generator (fast, and the same every run).
    static func randomFloats(_ count: Int) -> [Float] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }
}

/// The machine's single-precision FMA peaks, measured: the issue rate of FMAs on AVX-512 and AVX2 registers (a
/// loop of independent FMAs on every core at once, best of three rounds).
struct FMAPeak: CustomStringConvertible {
    let cores: Int
    /// GFLOP/s of all cores together, FMAs on 16-float (AVX-512) and 8-float (AVX2) registers; 0 if absent.
    let avx512: Double, avx2: Double

    /// The widest FMA peak of one core.
    var perCore: Double { max(avx512, avx2) / Double(cores) }

    var description: String {
        String(format: "FMA peak, measured on %d cores at once: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s (%.1f and %.1f per core)",
               cores, avx512, avx2, avx512 / Double(cores), avx2 / Double(cores))
    }

    static func measure(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> FMAPeak {
        func rate(_ width: Int32) -> Double {
            var rates = [Double](repeating: 0, count: cores)
            rates.withUnsafeMutableBufferPointer { slots in
                DispatchQueue.concurrentPerform(iterations: cores) { core in
                    slots[core] = strata_fma_gflops(width, 20_000_000)
                }
            }
            return rates.reduce(0, +)
        }
        _ = strata_fma_gflops(16, 2_000_000)
        // Best of three rounds: a round that shares the machine with anything else reads low.
        return FMAPeak(cores: cores, avx512: (0..<3).map { _ in rate(16) }.max() ?? 0,
                       avx2: (0..<3).map { _ in rate(8) }.max() ?? 0)
    }
}

/// The best single-precision gemm rate of a backend, on a square product large enough to reach it.
enum SgemmPeak {
    /// GFLOP/s of a `size`-cubed product on `threads` threads (best of a few runs).
    static func measure(threads: Int, backend: GemmBackend = .default, size: Int = 1536) -> Double {
        let saved = Kernels.blasThreads
        Kernels.setBLASThreads(threads)
        defer { Kernels.setBLASThreads(saved) }
        let a = GemmBench.randomFloats(size * size), b = GemmBench.randomFloats(size * size)
        var c = [Float](repeating: 0, count: size * size)
        let seconds = c.withUnsafeMutableBufferPointer { pc in
            Stopwatch.bestWithin(0.3) {
                Kernels.gemm(transposeA: false, transposeB: false, m: size, n: size, k: size, a: a, lda: size,
                             b: b, ldb: size, c: pc.baseAddress!, ldc: size, backend: backend)
            }
        }
        return 2 * Double(size * size * size) / seconds / 1e9
    }

    /// One line per backend: the peak on 1 and 2 threads.
    static func report() -> String {
        GemmBackend.allCases.map { backend in
            String(format: "sgemm peak (1536^3), %@: %.1f GFLOP/s on 1 thread, %.1f on 2", backend.rawValue,
                   measure(threads: 1, backend: backend), measure(threads: 2, backend: backend))
        }.joined(separator: "\n")
    }
}

extension Stopwatch {
    /// The best timing of `body` over at least three runs and about `budget` seconds, after one warm-up.
    ///
    /// With `threadTime`, a run is measured in CPU time of the calling thread (time spent descheduled on
    /// a shared machine does not count); this is only meaningful when `body` runs on this thread alone.
    static func bestWithin(_ budget: Double, threadTime: Bool = false, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity, spent = 0.0, runs = 0
        while spent < budget || runs < 3 {
            let t = threadTime ? threadSeconds(body) : time(body)
            best = min(best, t)
            spent += t
            runs += 1
        }
        return best
    }

    /// CPU seconds the calling thread spends in `body`.
    static func threadSeconds(_ body: () -> Void) -> Double {
        func now() -> Double {
            var spec = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
            return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }
        let start = now()
        body()
        return now() - start
    }
}
