import Foundation
import StrataTensor
#if canImport(Glibc)
import Glibc
#endif

/// How a `StreamingLoader` reads.
public struct LoaderOptions: Sendable {
    /// Worker threads assembling batches.
    public var threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
    /// Batches assembled ahead of the consumer (at least `threads`): with the batch size, this bounds
    /// the loader's memory.
    public var prefetch = 4
    /// Longest token sequence kept from variable-length columns; longer values are truncated.
    public var maxLength: Int?
    /// Whether the pages of values already copied are dropped from the process's mapping
    /// (`madvise(MADV_DONTNEED)`; they stay in the page cache), so the resident size does not grow
    /// with the cache read.
    public var releasePages = true

    /// The defaults listed on each property.
    public init() {}
}

/// One batch to read: the ids read from image columns and from text columns.
public struct LoaderRequest: Sendable, Equatable {
    /// Rows of every image column, in batch order.
    public var imageIDs: [UInt64]
    /// Rows of every text column, in batch order.
    public var captionIDs: [UInt64]

    /// A request for the given rows.
    public init(imageIDs: [UInt64] = [], captionIDs: [UInt64] = []) {
        self.imageIDs = imageIDs
        self.captionIDs = captionIDs
    }
}

/// One column of a batch as tokens: a pooled `[C]` value is one token of width `C`, a `[C, H, W]` map
/// is `H·W` tokens of width `C` (channels last), a variable-length `[n, W]` value is `n` tokens.
public struct ColumnBatch: @unchecked Sendable {
    /// `[B, L, W]`: `f32` (f16 and bf16 widened) or `i32`; rows shorter than `L` are zero-padded.
    public var values: Tensor
    /// `[B, L]` `f32`, 1 at real tokens and 0 at padding; nil when every row has `L` tokens.
    public var mask: Tensor?
    /// Real tokens of each row.
    public var lengths: [Int]
}

/// One assembled batch.
public struct LoadedBatch: @unchecked Sendable {
    /// Position of the batch in its run.
    public let index: Int
    /// The request it answers.
    public let request: LoaderRequest
    /// Every column read, by name.
    public let columns: [String: ColumnBatch]

    /// The batch of `name`, or `CacheError.unknownColumn` when the loader does not read it.
    public func column(_ name: String) throws -> ColumnBatch {
        guard let batch = columns[name] else { throw CacheError.invalidArgument("column '\(name)' is not read by this loader") }
        return batch
    }
}

/// How a column's stored values become tokens.
public struct TokenLayout: Sendable, Equatable {
    /// Token width.
    public let width: Int
    /// Tokens of every value of a fixed-shape column; nil for variable-length columns.
    public let fixedTokens: Int?
    /// Whether values are `[C, H, W]` maps stored channel-major, turned into `H·W` tokens of width `C`.
    public let transposed: Bool

    /// The layout of `column`: `[C]` → 1 token, `[C, H, W]` → `H·W` tokens of `C`, `[A, B…]` → `A` tokens,
    /// variable-length `[n, W…]` → `n` tokens of `∏W`.
    public init(_ column: Manifest.Column) {
        let shape = column.fixedShape
        if column.isVariableLength {
            (width, fixedTokens, transposed) = (Tensor.elementCount(shape), nil, false)
        } else if shape.count == 3 {
            (width, fixedTokens, transposed) = (shape[0], shape[1] * shape[2], true)
        } else if shape.count <= 1 {
            (width, fixedTokens, transposed) = (Tensor.elementCount(shape), 1, false)
        } else {
            (width, fixedTokens, transposed) = (Tensor.elementCount(Array(shape.dropFirst())), shape[0], false)
        }
    }
}

/// The one way to read batches from a cache: values read straight from LMDB's memory map, widened into
/// reused `[B, L, W]` buffers (ragged columns padded, with masks), assembled by background threads at
/// most `prefetch` batches ahead of the consumer and delivered in request order. Memory is bounded by
/// the batch size and the prefetch depth, whatever the cache's size.
public final class StreamingLoader: @unchecked Sendable {
    struct Source {
        let column: Manifest.Column
        let table: LMDBDatabase
        let layout: TokenLayout
    }

    /// The cache read from.
    public let reader: CacheReader
    /// The settings.
    public let options: LoaderOptions
    /// The columns read, in order.
    public let columnNames: [String]
    let sources: [Source]

    /// A loader of `columns` (image columns read a request's image ids, text columns its caption ids).
    public init(reader: CacheReader, columns: [String], options: LoaderOptions = LoaderOptions()) throws {
        guard options.threads > 0 else { throw CacheError.invalidArgument("thread count must be positive, got \(options.threads)") }
        guard options.prefetch > 0 else { throw CacheError.invalidArgument("prefetch must be positive, got \(options.prefetch)") }
        if let maxLength = options.maxLength, maxLength < 0 {
            throw CacheError.invalidArgument("maximum length must not be negative, got \(maxLength)")
        }
        self.reader = reader
        self.options = options
        var seen = Set<String>()
        columnNames = columns.filter { seen.insert($0).inserted }
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        sources = try columnNames.map { name in
            let column = try reader.column(name)
            return Source(column: column, table: try snapshot.table(name), layout: TokenLayout(column))
        }
    }

    /// Starts workers reading `requests` in order; read the batches with `next()`.
    public func run(_ requests: [LoaderRequest]) -> LoaderRun {
        LoaderRun(loader: self, requests: requests)
    }

    /// Reads one batch on the calling thread.
    public func load(_ request: LoaderRequest) throws -> LoadedBatch {
        let transaction = try reader.environment.beginRead()
        defer { transaction.end() }
        var scratch: [Float] = []
        var recycled: [String: ColumnBatch] = [:]
        return try assemble(index: 0, request: request, transaction: transaction, recycled: &recycled, scratch: &scratch)
    }

    /// Assembles the batch of `request` inside `transaction`, reusing `recycled` buffers where no one
    /// else holds them.
    func assemble(index: Int, request: LoaderRequest, transaction: LMDBReadTransaction,
                  recycled: inout [String: ColumnBatch], scratch: inout [Float]) throws -> LoadedBatch {
        var columns: [String: ColumnBatch] = [:]
        var released: [UnsafeRawBufferPointer] = []
        for source in sources {
            let ids = source.column.modality == .image ? request.imageIDs : request.captionIDs
            // Taken out of `recycled` so the buffer is uniquely referenced when no consumer holds it.
            var batch = recycled.removeValue(forKey: source.column.name) ?? ColumnBatch(values: Tensor(zeros: [0]), mask: nil, lengths: [])
            try fill(source, ids: ids, transaction: transaction, into: &batch, scratch: &scratch, touched: &released)
            columns[source.column.name] = batch
        }
        if options.releasePages { StreamingLoader.release(released) }
        return LoadedBatch(index: index, request: request, columns: columns)
    }

    private func fill(_ source: Source, ids: [UInt64], transaction: LMDBReadTransaction, into batch: inout ColumnBatch,
                      scratch: inout [Float], touched: inout [UnsafeRawBufferPointer]) throws {
        let column = source.column
        let layout = source.layout
        // Visit keys in order: neighbouring B-tree pages and values are read together.
        let visit = ids.indices.sorted { ids[$0] < ids[$1] }
        var values = [UnsafeRawBufferPointer](repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: ids.count)
        var lengths = [Int](repeating: layout.fixedTokens ?? 0, count: ids.count)
        let rowBytes = column.rowBytes
        for row in visit {
            guard let value = try transaction.get(source.table, id: ids[row]) else {
                throw CacheError.valueMissing(column: column.name, id: ids[row], path: reader.path)
            }
            if column.isVariableLength {
                guard rowBytes > 0 ? value.count % rowBytes == 0 : value.count == 0 else {
                    throw CacheError.valueSizeMismatch(column: column.name, id: ids[row], expectedBytes: rowBytes, actualBytes: value.count)
                }
                let steps = rowBytes > 0 ? value.count / rowBytes : 0
                lengths[row] = min(steps, options.maxLength ?? steps)
            } else if value.count != rowBytes {
                throw CacheError.valueSizeMismatch(column: column.name, id: ids[row], expectedBytes: rowBytes, actualBytes: value.count)
            }
            values[row] = value
        }
        StreamingLoader.prefetch(values)
        let longest = lengths.max() ?? 0
        let width = layout.width
        let shape = [ids.count, longest, width]
        if column.dtype == .i32 {
            if batch.values.dtype != .i32 || batch.values.shape != shape { batch.values = Tensor(zeros: shape, dtype: .i32) }
        } else {
            batch.values.prepareOutput(shape: shape)
        }
        let rowElements = longest * width
        if layout.transposed, scratch.count < rowElements { scratch = [Float](repeating: 0, count: rowElements) }
        batch.values.withUnsafeMutableBytes { output in
            guard let base = output.baseAddress?.assumingMemoryBound(to: Float.self) else { return }
            scratch.withUnsafeMutableBufferPointer { scratch in
                for row in visit {
                    let destination = base + row * rowElements
                    let elements = lengths[row] * width
                    if let source = values[row].baseAddress, elements > 0 {
                        if layout.transposed, let buffer = scratch.baseAddress {
                            Widening.widenTransposed(source, column.dtype, channels: width, positions: lengths[row],
                                                     into: destination, scratch: buffer)
                        } else {
                            Widening.widen(source, column.dtype, into: destination, count: elements)
                        }
                    }
                    if elements < rowElements { (destination + elements).update(repeating: 0, count: rowElements - elements) }
                    touched.append(values[row])
                }
            }
        }
        batch.lengths = lengths
        if lengths.allSatisfy({ $0 == longest }) {
            batch.mask = nil
        } else {
            var mask = batch.mask ?? Tensor(zeros: [0])
            mask.prepareOutput(shape: [ids.count, longest])
            mask.withUnsafeMutableFloats { m in
                for row in 0..<ids.count {
                    for step in 0..<longest { m[row * longest + step] = step < lengths[row] ? 1 : 0 }
                }
            }
            batch.mask = mask
        }
    }

    /// Drops the whole pages inside `ranges` from the process's mapping (they stay in the page cache
    /// and come back on the next touch); LMDB's own pages are never inside a value.
    static func release(_ ranges: [UnsafeRawBufferPointer]) {
        advise(ranges, MADV_DONTNEED, wholePagesOnly: true)
    }

    /// Asks the kernel to read the pages of `ranges` ahead, all at once, so that a batch's values come
    /// off the disk in parallel instead of one page fault at a time (pages already in memory cost nothing).
    static func prefetch(_ ranges: [UnsafeRawBufferPointer]) {
        advise(ranges, MADV_WILLNEED, wholePagesOnly: false)
    }

    /// `madvise(advice)` over the pages of `ranges`, neighbouring ranges merged: the pages wholly inside
    /// them, or every page they touch.
    private static func advise(_ ranges: [UnsafeRawBufferPointer], _ advice: Int32, wholePagesOnly: Bool) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var pending: (start: Int, end: Int)?
        func flush() {
            guard let (start, end) = pending, end > start else { return }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, advice)
        }
        for range in ranges.sorted(by: { Int(bitPattern: $0.baseAddress) < Int(bitPattern: $1.baseAddress) }) {
            guard let base = range.baseAddress else { continue }
            let first = Int(bitPattern: base), last = first + range.count
            let start = wholePagesOnly ? (first + page - 1) / page * page : first / page * page
            let end = wholePagesOnly ? last / page * page : (last + page - 1) / page * page
            guard end > start else { continue }
            if let current = pending, current.end >= start {
                pending = (current.start, max(current.end, end))
            } else {
                flush()
                pending = (start, end)
            }
        }
        flush()
    }
}

/// The batches of one run of requests, in order. Dropping it stops its workers.
public final class LoaderRun {
    private let state: LoaderState

    init(loader: StreamingLoader, requests: [LoaderRequest]) {
        state = LoaderState(loader: loader, requests: requests)
        state.start()
    }

    /// Batches in the run.
    public var batchCount: Int { state.requests.count }

    /// The next batch, nil after the last; rethrows the first error a worker met.
    public func next() throws -> LoadedBatch? { try state.next() }

    /// Stops the workers; `next()` then returns nil.
    public func cancel() { state.cancel() }

    deinit { state.cancel() }
}

/// The shared state of a run's workers and its consumer.
final class LoaderState: @unchecked Sendable {
    let loader: StreamingLoader
    let requests: [LoaderRequest]
    private let window: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<LoadedBatch, Error>] = [:]
    private var nextToClaim = 0
    private var nextToDeliver = 0
    private var cancelled = false
    /// Buffers of delivered batches, reused once their consumer has let go of them.
    private var delivered: [[String: ColumnBatch]] = []
    private var free: [[String: ColumnBatch]] = []

    init(loader: StreamingLoader, requests: [LoaderRequest]) {
        self.loader = loader
        self.requests = requests
        window = max(loader.options.prefetch, loader.options.threads, 1)
    }

    func start() {
        for number in 0..<min(loader.options.threads, max(requests.count, 1)) {
            let thread = Thread { [self] in work() }
            thread.name = "strata-loader-\(number)"
            thread.start()
        }
    }

    private func claim(buffers: inout [String: ColumnBatch]) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, nextToClaim < requests.count, nextToClaim >= nextToDeliver + window { condition.wait() }
        guard !cancelled, nextToClaim < requests.count else { return nil }
        nextToClaim += 1
        buffers = free.popLast() ?? [:]
        return nextToClaim - 1
    }

    private func deliver(_ index: Int, _ result: Result<LoadedBatch, Error>) {
        condition.lock()
        ready[index] = result
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        // Each worker owns one read transaction, renewed per batch and never shared, and one scratch row.
        var transaction: LMDBReadTransaction?
        var scratch: [Float] = []
        defer { transaction?.end() }
        while true {
            var recycled: [String: ColumnBatch] = [:]
            guard let index = claim(buffers: &recycled) else { break }
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
                return try loader.assemble(index: index, request: requests[index], transaction: current,
                                           recycled: &recycled, scratch: &scratch)
            }
            deliver(index, result)
        }
    }

    func next() throws -> LoadedBatch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToDeliver < requests.count else { return nil }
        while !cancelled, ready[nextToDeliver] == nil { condition.wait() }
        guard !cancelled, let result = ready.removeValue(forKey: nextToDeliver) else { return nil }
        nextToDeliver += 1
        condition.broadcast()
        switch result {
        case let .success(batch):
            // A batch's buffers are offered for reuse two batches later, when a consumer that handles one
            // batch at a time has dropped them; buffers still held elsewhere are never overwritten.
            delivered.append(batch.columns)
            if delivered.count > 2 { free.append(delivered.removeFirst()) }
            if free.count > window { free.removeFirst() }
            return batch
        case let .failure(error):
            cancelled = true
            throw error
        }
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
