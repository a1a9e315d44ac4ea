import Foundation
import StrataTensor

/// Random access to a cache: its manifest, index records, failures and feature values by id.
///
/// A reader may be used from several threads; each call takes its own short read transaction. For many
/// reads on one thread, `snapshot()` keeps one transaction open (never hand a snapshot to another thread).
public final class CacheReader: @unchecked Sendable {
    /// The environment directory.
    public let path: String
    /// The manifest as committed when the reader opened.
    public let manifest: Manifest
    let environment: LMDBEnvironment
    let tables: [String: LMDBDatabase]

    /// Opens the cache at `path`. With `checkStructure` (the default), the B-trees of its LMDB file are
    /// walked first without LMDB (`LMDBPageWalk`), so that a damaged tree page is refused as
    /// `CacheError.damaged` instead of crashing the process on a read; a caller that has just walked or
    /// written the file itself may skip that.
    public init(path: String, checkStructure: Bool = true) throws {
        let environment = try LMDBEnvironment.open(path: path)
        if checkStructure {
            // A read transaction pins the snapshot being walked while a writer goes on.
            let damage = try environment.read { transaction in
                try LMDBPageWalk.check(directory: environment.path, transaction: transaction.snapshotID, limit: 1)
            }
            if let first = damage.first {
                throw CacheError.damaged(path: environment.path, reason: "\(first)")
            }
        }
        self.environment = environment
        self.path = environment.path
        guard let meta = try environment.database(CacheLayout.metaTable) else {
            throw CacheError.manifestMissing(path: environment.path)
        }
        guard let stored = try StoredCache.manifest(in: environment, meta: meta) else {
            throw CacheError.manifestMissing(path: environment.path)
        }
        manifest = stored
        var tables: [String: LMDBDatabase] = [CacheLayout.metaTable: meta]
        var names = [CacheLayout.failuresTable]
        for table in CacheLayout.checksummedIndexTables + manifest.columns.map(\.name) {
            names += [table, table + CacheLayout.checksumSuffix]
        }
        for name in names {
            if let database = try environment.database(name) { tables[name] = database }
        }
        self.tables = tables
    }

    /// The catalog entry of `name`, or `CacheError.unknownColumn`.
    public func column(_ name: String) throws -> Manifest.Column {
        guard let column = manifest.column(named: name) else { throw CacheError.unknownColumn(name, path: path) }
        return column
    }

    /// A read transaction for many reads on the calling thread.
    public func snapshot() throws -> CacheSnapshot {
        CacheSnapshot(reader: self, transaction: try environment.beginRead())
    }

    /// The value of sample `id` in `column`, in the column's dtype and per-sample shape; nil when absent.
    public func value(column: String, id: UInt64) throws -> Tensor? {
        let snapshot = try snapshot()
        defer { snapshot.end() }
        return try snapshot.value(column: column, id: id)
    }

    /// The ids stored in `column`, ascending.
    public func ids(column: String) throws -> [UInt64] {
        let snapshot = try snapshot()
        defer { snapshot.end() }
        return try snapshot.ids(table: try self.column(column).name)
    }

    /// The index entry of image `id`, or nil.
    public func image(id: UInt64) throws -> ImageRecord? {
        let snapshot = try snapshot()
        defer { snapshot.end() }
        return try snapshot.image(id: id)
    }

    /// The index entry of caption `id`, or nil.
    public func caption(id: UInt64) throws -> CaptionRecord? {
        let snapshot = try snapshot()
        defer { snapshot.end() }
        return try snapshot.caption(id: id)
    }

    /// Every recorded failure, in key order.
    public func failures() throws -> [CacheFailure] {
        let snapshot = try snapshot()
        defer { snapshot.end() }
        return try snapshot.failures()
    }

    /// Bytes of pages each table occupies, by table name (absent tables are left out).
    public func tableSizes() throws -> [String: Int] {
        try environment.read { transaction in
            try tables.mapValues { try transaction.byteSize($0) }
        }
    }

    /// Entries in each table, by table name (absent tables are left out).
    public func tableCounts() throws -> [String: Int] {
        try environment.read { transaction in
            try tables.mapValues { try transaction.entryCount($0) }
        }
    }
}

/// A recorded failure: which input, and why it could not be processed.
public struct CacheFailure: Equatable, Sendable {
    /// Image or caption.
    public let modality: Manifest.Modality
    /// The image or caption id.
    public let id: UInt64
    /// What went wrong.
    public let reason: String
}

/// One read transaction of a `CacheReader`: a consistent view for many reads on one thread.
public final class CacheSnapshot {
    let reader: CacheReader
    let transaction: LMDBReadTransaction

    init(reader: CacheReader, transaction: LMDBReadTransaction) {
        self.reader = reader
        self.transaction = transaction
    }

    /// Ends the snapshot (also done when it is released).
    public func end() { transaction.end() }

    func table(_ name: String) throws -> LMDBDatabase {
        guard let table = reader.tables[name] else {
            throw CacheError.lmdb(.notFound, operation: "open table '\(name)'", path: reader.path)
        }
        return table
    }

    /// The raw stored bytes of sample `id` in `column` (valid until the snapshot ends), or nil.
    public func rawValue(column: String, id: UInt64) throws -> UnsafeRawBufferPointer? {
        try transaction.get(try table(column), id: id)
    }

    /// The value of sample `id` in `column`, in the column's dtype and per-sample shape; nil when absent.
    public func value(column name: String, id: UInt64) throws -> Tensor? {
        let column = try reader.column(name)
        guard let bytes = try transaction.get(try table(name), id: id) else { return nil }
        guard let shape = column.sampleShape(byteCount: bytes.count) else {
            throw CacheError.valueSizeMismatch(column: name, id: id, expectedBytes: column.rowBytes, actualBytes: bytes.count)
        }
        return try Tensor(shape: shape, dtype: column.dtype, bytes: bytes)
    }

    /// The ids in a table, ascending.
    public func ids(table name: String) throws -> [UInt64] {
        var ids: [UInt64] = []
        let database = try table(name)
        ids.reserveCapacity(try transaction.entryCount(database))
        try transaction.forEach(database) { key, _ in
            if let id = SampleKey.id(key) { ids.append(id) }
            return true
        }
        return ids
    }

    /// The index entry of image `id`, or nil.
    public func image(id: UInt64) throws -> ImageRecord? {
        try transaction.get(try table(CacheLayout.imagesTable), id: id).map { try ImageRecord.decode($0, id: id) }
    }

    /// The index entry of caption `id`, or nil.
    public func caption(id: UInt64) throws -> CaptionRecord? {
        try transaction.get(try table(CacheLayout.captionsTable), id: id).map { try CaptionRecord.decode($0, id: id) }
    }

    /// Every recorded failure, in key order.
    public func failures() throws -> [CacheFailure] {
        try transaction.failures(in: try table(CacheLayout.failuresTable))
    }
}

extension LMDBReadTransaction {
    /// The failure records of a cache's failures table, in key order.
    func failures(in table: LMDBDatabase) throws -> [CacheFailure] {
        var result: [CacheFailure] = []
        try forEach(table) { key, value in
            if let (modality, id) = FailureKey.parse(key) {
                result.append(CacheFailure(modality: modality, id: id, reason: String(decoding: value, as: UTF8.self)))
            }
            return true
        }
        return result
    }
}
