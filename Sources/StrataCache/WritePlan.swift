import Foundation
import StrataTensor

/// A batch checked against the manifest, sorted by id per table, with its checksums computed, ready
/// to be put (and replayed if the map has to grow).
struct WritePlan {
    struct Entry {
        let id: UInt64
        let checksum: UInt32
        private let tensor: Tensor?
        private let byteOffset: Int
        private let byteCount: Int
        private let record: [UInt8]

        init(id: UInt64, tensor: Tensor, byteOffset: Int, byteCount: Int) {
            self.id = id
            self.tensor = tensor
            self.byteOffset = byteOffset
            self.byteCount = byteCount
            record = []
            checksum = tensor.withUnsafeBytes { Checksum.crc32(UnsafeRawBufferPointer(rebasing: $0[byteOffset..<byteOffset + byteCount])) }
        }

        init(id: UInt64, record: [UInt8]) {
            self.id = id
            self.record = record
            tensor = nil
            byteOffset = 0
            byteCount = 0
            checksum = Checksum.crc32(record)
        }

        /// Bytes of the value.
        var size: Int { tensor == nil ? record.count : byteCount }

        func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            if let tensor {
                return try tensor.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[byteOffset..<byteOffset + byteCount])) }
            }
            return try record.withUnsafeBytes(body)
        }
    }

    struct Table {
        let name: String
        let entries: [Entry]
    }

    let tables: [Table]
    let failures: [(key: [UInt8], reason: [UInt8])]
    let clearedFailures: [[UInt8]]

    /// Bytes the transaction adds at most: values, checksums, keys and failures, and LMDB's page and node
    /// overhead (pages half full after splits, copies of the touched branch pages).
    var estimatedBytes: Int {
        let values = tables.reduce(0) { total, table in total + table.entries.reduce(0) { $0 + $1.size + 2 * (8 + 16) + 4 } }
        let failed = failures.reduce(0) { $0 + $1.key.count + $1.reason.count + 16 }
        return 2 * (values + failed) + (1 << 20)
    }

    init(batch: CacheBatch, manifest: Manifest) throws {
        let images = try batch.images.map { Entry(id: $0.id, record: try $0.record.encoded(id: $0.id)) }
        let captions = try batch.captions.map { Entry(id: $0.id, record: try $0.record.encoded(id: $0.id)) }
        var columns: [String: [Entry]] = [:]
        for (name, values) in batch.values {
            guard let column = manifest.column(named: name) else { throw CacheError.unknownColumn(name, path: "<writer>") }
            columns[name] = WritePlan.checksummed(try values.map { try WritePlan.conform($0, to: column) })
        }
        self.init(images: images, captions: captions, columns: columns,
                  failures: batch.failures.map { (key: FailureKey.bytes(modality: $0.modality, id: $0.id), reason: Array($0.reason.utf8)) },
                  clearedFailures: batch.clearedFailures.map { FailureKey.bytes(modality: $0.modality, id: $0.id) })
    }

    /// The plan for entries as stored (a shard copied from a part cache, see `PartMerge`): the tables
    /// in the order every transaction writes them (images, captions, then the columns by name), each by
    /// increasing id, and the failures by key, so equal contents are put in the same order.
    init(images: [Entry], captions: [Entry], columns: [String: [Entry]], failures: [(key: [UInt8], reason: [UInt8])],
         clearedFailures: [[UInt8]] = []) {
        var tables: [Table] = []
        if !images.isEmpty { tables.append(Table(name: CacheLayout.imagesTable, entries: WritePlan.sorted(images))) }
        if !captions.isEmpty { tables.append(Table(name: CacheLayout.captionsTable, entries: WritePlan.sorted(captions))) }
        for name in columns.keys.sorted() {
            guard let entries = columns[name], !entries.isEmpty else { continue }
            tables.append(Table(name: name, entries: WritePlan.sorted(entries)))
        }
        self.tables = tables
        self.failures = failures.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        self.clearedFailures = clearedFailures
    }

    /// Entries for `values`, their checksums computed on several threads.
    private static func checksummed(_ values: [CacheBatch.Value]) -> [Entry] {
        let parts = min(values.count, 8)
        guard parts > 1 else {
            return values.map { Entry(id: $0.id, tensor: $0.tensor, byteOffset: $0.byteOffset, byteCount: $0.byteCount) }
        }
        let results = PartResults<[Entry]>(count: parts)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = values.count * part / parts..<values.count * (part + 1) / parts
            results.set(part, values[range].map {
                Entry(id: $0.id, tensor: $0.tensor, byteOffset: $0.byteOffset, byteCount: $0.byteCount)
            })
        }
        return results.values.flatMap { $0 ?? [] }
    }

    private static func sorted(_ entries: [Entry]) -> [Entry] {
        var inOrder = true
        for i in entries.indices.dropFirst() where entries[i - 1].id > entries[i].id {
            inOrder = false
            break
        }
        return inOrder ? entries : entries.sorted { $0.id < $1.id }
    }

    /// Checks a value's shape against its column and converts its dtype when they differ.
    private static func conform(_ value: CacheBatch.Value, to column: Manifest.Column) throws -> CacheBatch.Value {
        var value = value
        if value.tensor.dtype != column.dtype {
            let elementSize = value.tensor.dtype.byteSize
            let start = value.byteOffset / elementSize
            let count = value.byteCount / elementSize
            let slice = try value.tensor.withUnsafeBytes {
                try Tensor(shape: [count], dtype: value.tensor.dtype,
                           bytes: UnsafeRawBufferPointer(rebasing: $0[start * elementSize..<(start + count) * elementSize]))
            }
            let converted = slice.converted(to: column.dtype)
            value = CacheBatch.Value(id: value.id, tensor: converted, byteOffset: 0, byteCount: converted.byteCount)
        }
        guard column.sampleShape(byteCount: value.byteCount) != nil else {
            throw CacheError.tensorMismatch(column: column.name, id: value.id,
                                            reason: "\(value.byteCount / column.dtype.byteSize) \(column.dtype) elements do not fit the per-sample shape \(column.shape.map { $0.map(String.init) ?? "n" })")
        }
        return value
    }
}

/// Slots that concurrent workers fill, one each.
final class PartResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}
