import Foundation
import StrataTensor

/// A convolutional encoder's per-worker buffers: at least the worker's share of the input batch.
protocol SplitBuffers: AnyObject {
    /// This worker's share of the batch, when the batch is split.
    var input: Tensor { get set }
    /// Fresh buffers.
    init()
}

/// Splits an image batch over the configured BLAS threads: with several threads and several images the
/// batch is cut into that many contiguous parts, each run by its own worker with single-threaded gemms (no
/// thread hand-offs inside the many mid-sized convolution products), and the parts' outputs are joined back
/// in order. Each image's result does not depend on the split.
enum BatchSplit {
    /// Runs `body(part, buffers)` over the parts of `pixels` (`[N, ...]`), one set of `buffers` per worker
    /// (grown as needed), and returns each level's outputs joined along the batch.
    static func run<Buffers: SplitBuffers>(_ pixels: Tensor, levels: [PyramidLevel], buffers: inout [Buffers],
                                           _ body: @escaping (Tensor, Buffers) throws -> [Tensor]) throws -> [Tensor] {
        let batch = pixels.shape[0]
        let workers = min(SingleThreadedBLAS.configuredThreads, batch)
        if buffers.isEmpty { buffers.append(Buffers()) }
        while buffers.count < workers { buffers.append(Buffers()) }
        if workers <= 1 { return try body(pixels, buffers[0]) }
        let imageFloats = pixels.count / batch
        let bounds = (0...workers).map { $0 * batch / workers }
        var parts = [Result<[Tensor], Error>](repeating: .success([]), count: workers)
        let workerBuffers = buffers
        parts.withUnsafeMutableBufferPointer { slots in
            guard let slots = slots.baseAddress else { return }
            SingleThreadedBLAS.concurrentPerform(workers: workers) { worker in
                let b = workerBuffers[worker]
                let count = bounds[worker + 1] - bounds[worker]
                b.input.prepareOutput(shape: [count] + pixels.shape.dropFirst())
                pixels.withUnsafeFloats { source in
                    b.input.withUnsafeMutableFloats { target in
                        guard let from = source.baseAddress, let to = target.baseAddress else { return }
                        to.update(from: from + bounds[worker] * imageFloats, count: count * imageFloats)
                    }
                }
                slots[worker] = Result { try body(b.input, b) }
            }
        }
        let results = try parts.map { try $0.get() }
        return levels.indices.map { index in concatenate(results.map { $0[index] }) }
    }

    /// Tensors joined along their first dimension.
    static func concatenate(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(zeros: [0]) }
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        var out = Tensor(zeros: [rows] + first.shape.dropFirst())
        var offset = 0
        out.withUnsafeMutableFloats { target in
            guard let to = target.baseAddress else { return }
            for part in parts {
                part.withUnsafeFloats { source in
                    guard let from = source.baseAddress else { return }
                    (to + offset).update(from: from, count: source.count)
                    offset += source.count
                }
            }
        }
        return out
    }

    /// A copy with its own storage (buffers must stay uniquely owned to be reused).
    static func copy(_ tensor: Tensor) -> Tensor {
        let result = Tensor(zeros: tensor.shape, dtype: tensor.dtype)
        tensor.withUnsafeBytes { source in
            if let base = source.baseAddress { result.storage.bytes.copyMemory(from: base, byteCount: source.count) }
        }
        return result
    }
}

/// The levels of a convolutional encoder: map outputs that may be pooled or averaged, and vector outputs.
enum MapLevels {
    /// Throws a clear error for a level that is not among `outputs`, or that pools or reduces a vector
    /// output (`maps` are the poolable ones).
    static func validate(_ levels: [PyramidLevel], architecture: String, outputs: [String], maps: [String]) throws {
        for level in levels {
            guard outputs.contains(level.output) else {
                throw ModelError.unknownLevel(architecture: architecture, level: level.description,
                                              reason: "unknown output (available: \(outputs.joined(separator: ", ")))")
            }
            if level.reduce == .cls {
                throw ModelError.unknownLevel(architecture: architecture, level: level.description,
                                              reason: "a convolutional map has no [CLS] token")
            }
            if !maps.contains(level.output), level.pool != nil || level.reduce != .none {
                throw ModelError.unknownLevel(architecture: architecture, level: level.description,
                                              reason: "\(level.output) is already a vector; pooling applies to \(maps.joined(separator: ", "))")
            }
            if let pool = level.pool, pool.count != 2 || pool.contains(where: { $0 < 1 }) {
                throw ModelError.unknownLevel(architecture: architecture, level: level.description,
                                              reason: "pool must be two sizes >= 1, got \(pool)")
            }
        }
    }

    /// A convolutional encoder's outputs: its `maps`, `avgpool`, and `fc` when it has a classifier.
    static func outputs(maps: [String], hasClassifier: Bool) -> [String] {
        maps + ["avgpool"] + (hasClassifier ? ["fc"] : [])
    }

    /// Checks `levels` and `pixels`, then runs `body` over the batch split across workers (`BatchSplit`),
    /// a kernel failure reported as the architecture's.
    static func encode<Buffers: SplitBuffers>(_ pixels: Tensor, levels: [PyramidLevel], architecture: String, outputs: [String],
                                              maps: [String], buffers: inout [Buffers],
                                              _ body: @escaping (Tensor, Buffers) throws -> [Tensor]) throws -> [Tensor] {
        try validate(levels, architecture: architecture, outputs: outputs, maps: maps)
        try checkPixels(pixels, architecture: architecture)
        do {
            return try BatchSplit.run(pixels, levels: levels, buffers: &buffers, body)
        } catch let error as TensorError {
            throw ModelError.kernel(architecture: architecture, reason: error.description)
        }
    }

    /// Throws unless `pixels` is an f32 `[N, 3, H, W]` batch with H, W >= 32.
    static func checkPixels(_ pixels: Tensor, architecture: String) throws {
        guard pixels.dtype == .f32, pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] >= 32, pixels.shape[3] >= 32 else {
            throw ModelError.badInput(architecture: architecture,
                                      reason: "pixels must be f32 [N, 3, H, W] with H, W >= 32, got \(pixels.dtype) \(pixels.shape)")
        }
    }

    /// A map as the level asks: copied, adaptively pooled, or averaged to `[N, C]`.
    static func reduce(_ map: Tensor, _ level: PyramidLevel) throws -> Tensor {
        if let pool = level.pool, pool.count == 2 {
            return try Kernels.adaptiveAvgPool2d(map, outputSize: Size2D(pool[0], pool[1]))
        }
        if level.reduce == .mean { return try Kernels.globalAvgPool2d(map) }
        return BatchSplit.copy(map)
    }
}
