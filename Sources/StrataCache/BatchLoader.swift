import Foundation
import StrataTensor

/// What a `BatchLoader` reads and how.
public struct BatchLoaderOptions: Sendable {
    /// The columns to read; only their tables are touched. All must share the samples' id space.
    public var columns: [String]
    /// Samples per batch.
    public var batchSize: Int
    /// Seed of the shuffle; with the epoch number it fixes the order.
    public var seed: UInt64 = 0
    /// Whether to shuffle (otherwise ids ascend).
    public var shuffle = true
    /// Whether to leave out a last, smaller batch.
    public var dropLast = false
    /// Worker threads assembling batches.
    public var threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
    /// Batches assembled ahead of the consumer (at least `threads`).
    public var prefetch = 4
    /// The samples to visit (e.g. one split); nil means every id of the first column.
    public var ids: [UInt64]?
    /// Longest sequence kept from variable-length columns; longer values are truncated.
    public var maxLength: Int?

    /// Options reading `columns` in batches of `batchSize`.
    public init(columns: [String], batchSize: Int) {
        self.columns = columns
        self.batchSize = batchSize
    }
}

/// One assembled batch: contiguous `[B, ...]` tensors per column.
public struct LoadedBatch: @unchecked Sendable {
    /// Position of the batch in its epoch.
    public let index: Int
    /// The sample ids, row by row.
    public let ids: [UInt64]
    /// Per column: `f32` for floating-point columns (f16 and bf16 widened), `i32` for integer ones.
    /// Variable-length columns are `[B, T, ...]`, zero-padded to the longest sample of the batch.
    public let features: [String: Tensor]
    /// Per variable-length column: `i32 [B, T]`, 1 where a step is real and 0 where it is padding.
    public let masks: [String: Tensor]
    /// Per variable-length column: the real length of each row.
    public let lengths: [String: [Int]]
}

/// A shuffled batch loader over a cache: several threads assemble batches ahead of the consumer
/// through a bounded window, and batches come out in a deterministic order for a given seed and epoch.
public final class BatchLoader: @unchecked Sendable {
    /// The cache read from.
    public let reader: CacheReader
    /// The settings.
    public let options: BatchLoaderOptions
    /// The samples visited each epoch, ascending.
    public let ids: [UInt64]
    let columns: [Manifest.Column]
    let tables: [LMDBDatabase]

    /// Prepares a loader; reads the id list once.
    public init(reader: CacheReader, options: BatchLoaderOptions) throws {
        guard options.batchSize > 0 else { throw CacheError.invalidArgument("batch size must be positive, got \(options.batchSize)") }
        guard options.threads > 0 else { throw CacheError.invalidArgument("thread count must be positive, got \(options.threads)") }
        guard let first = options.columns.first else { throw CacheError.invalidArgument("the loader needs at least one column") }
        if let maxLength = options.maxLength, maxLength < 0 {
            throw CacheError.invalidArgument("maximum length must not be negative, got \(maxLength)")
        }
        self.reader = reader
        self.options = options
        columns = try options.columns.map { try reader.column($0) }
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        tables = try columns.map { try snapshot.table($0.name) }
        ids = try options.ids.map { $0.sorted() } ?? snapshot.ids(table: first)
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int {
        options.dropLast ? ids.count / options.batchSize : (ids.count + options.batchSize - 1) / options.batchSize
    }

    /// The order in which `epoch` visits the samples.
    public func order(epoch: Int) -> [UInt64] {
        options.shuffle ? ShuffleOrder.permuted(ids, seed: options.seed, epoch: epoch) : ids
    }

    /// Starts the workers of `epoch`; read its batches with `next()`.
    public func epoch(_ epoch: Int) -> LoaderEpoch {
        LoaderEpoch(loader: self, order: order(epoch: epoch))
    }

    /// Assembles the batch of `ids` inside `transaction`.
    func assemble(index: Int, ids: [UInt64], transaction: LMDBReadTransaction) throws -> LoadedBatch {
        let rows = ids.indices.sorted { ids[$0] < ids[$1] }  // visit keys in order: warmer B-tree pages
        var features: [String: Tensor] = [:]
        var masks: [String: Tensor] = [:]
        var lengths: [String: [Int]] = [:]
        for (column, table) in zip(columns, tables) {
            var values = [UnsafeRawBufferPointer](repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: ids.count)
            for row in rows {
                guard let value = try transaction.get(table, id: ids[row]) else {
                    throw CacheError.valueMissing(column: column.name, id: ids[row], path: reader.path)
                }
                values[row] = value
            }
            let rowBytes = column.rowBytes
            var steps = [Int](repeating: 1, count: ids.count)
            if column.isVariableLength {
                for row in values.indices {
                    guard rowBytes > 0 ? values[row].count % rowBytes == 0 : values[row].count == 0 else {
                        throw CacheError.valueSizeMismatch(column: column.name, id: ids[row], expectedBytes: rowBytes, actualBytes: values[row].count)
                    }
                    let length = rowBytes > 0 ? values[row].count / rowBytes : 0
                    steps[row] = min(length, options.maxLength ?? length)
                }
            } else {
                for row in values.indices where values[row].count != rowBytes {
                    throw CacheError.valueSizeMismatch(column: column.name, id: ids[row], expectedBytes: rowBytes, actualBytes: values[row].count)
                }
            }
            let longest = column.isVariableLength ? (steps.max() ?? 0) : 1
            let outputType: DType = column.dtype == .i32 ? .i32 : .f32
            let shape = [ids.count] + (column.isVariableLength ? [longest] : []) + column.fixedShape
            var output = Tensor(zeros: shape, dtype: outputType)
            let stepElements = Tensor.elementCount(column.fixedShape)
            output.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                for row in values.indices {
                    guard let source = values[row].baseAddress else { continue }
                    let elements = steps[row] * stepElements
                    let destination = base + row * longest * stepElements * 4
                    switch column.dtype {
                    case .f16: Widening.f16ToF32(source, destination.assumingMemoryBound(to: Float.self), count: elements)
                    case .bf16: Widening.bf16ToF32(source, destination.assumingMemoryBound(to: Float.self), count: elements)
                    case .f32, .i32: Widening.copy(source, destination, byteCount: elements * 4)
                    }
                }
            }
            features[column.name] = output
            if column.isVariableLength {
                var mask = [Int32](repeating: 0, count: ids.count * longest)
                for row in steps.indices {
                    for step in 0..<steps[row] { mask[row * longest + step] = 1 }
                }
                masks[column.name] = try Tensor(shape: [ids.count, longest], int32s: mask)
                lengths[column.name] = steps
            }
        }
        return LoadedBatch(index: index, ids: ids, features: features, masks: masks, lengths: lengths)
    }
}

/// The batches of one epoch, in order. Dropping it stops its workers.
public final class LoaderEpoch {
    private let state: LoaderState

    init(loader: BatchLoader, order: [UInt64]) {
        state = LoaderState(loader: loader, order: order)
        state.start()
    }

    /// Batches in the epoch.
    public var batchCount: Int { state.batchCount }

    /// The next batch, nil after the last; rethrows the first error a worker met.
    public func next() throws -> LoadedBatch? { try state.next() }

    /// Stops the workers; `next()` then returns nil.
    public func cancel() { state.cancel() }

    deinit { state.cancel() }
}

/// The shared state of an epoch's workers and its consumer.
final class LoaderState: @unchecked Sendable {
    let loader: BatchLoader
    let order: [UInt64]
    let batchCount: Int
    private let window: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<LoadedBatch, Error>] = [:]
    private var nextToClaim = 0
    private var nextToDeliver = 0
    private var cancelled = false

    init(loader: BatchLoader, order: [UInt64]) {
        self.loader = loader
        self.order = order
        batchCount = loader.batchesPerEpoch
        window = max(loader.options.prefetch, loader.options.threads, 1)
    }

    func start() {
        for number in 0..<min(loader.options.threads, max(batchCount, 1)) {
            let thread = Thread { [self] in work() }
            thread.name = "strata-loader-\(number)"
            thread.start()
        }
    }

    private func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, nextToClaim < batchCount, nextToClaim >= nextToDeliver + window { condition.wait() }
        guard !cancelled, nextToClaim < batchCount else { return nil }
        nextToClaim += 1
        return nextToClaim - 1
    }

    private func deliver(_ index: Int, _ result: Result<LoadedBatch, Error>) {
        condition.lock()
        ready[index] = result
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        // Each worker owns one read transaction, renewed per batch and never shared.
        var transaction: LMDBReadTransaction?
        defer { transaction?.end() }
        while let index = claim() {
            let size = loader.options.batchSize
            let ids = Array(order[index * size..<min((index + 1) * size, order.count)])
            let result = Result<LoadedBatch, Error> {
                let current: LMDBReadTransaction
                if let transaction {
                    try transaction.renew()
                    current = transaction
                } else {
                    current = try loader.reader.environment.beginRead()
                    transaction = current
                }
                defer { current.reset() }
                return try loader.assemble(index: index, ids: ids, transaction: current)
            }
            deliver(index, result)
        }
    }

    func next() throws -> LoadedBatch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToDeliver < batchCount else { return nil }
        while !cancelled, ready[nextToDeliver] == nil { condition.wait() }
        guard !cancelled, let result = ready.removeValue(forKey: nextToDeliver) else { return nil }
        nextToDeliver += 1
        condition.broadcast()
        if case .failure = result { cancelled = true }
        return try result.get()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
