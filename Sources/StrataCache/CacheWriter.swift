import Foundation
import StrataTensor

/// Writes a cache: one batch per LMDB transaction, the manifest's counts updated in the same
/// transaction, so after a crash the cache holds exactly the batches whose commit returned.
///
/// Only one writer may be open per cache (a lock file in the directory, checked across processes).
/// Keys go in with `MDB_APPEND` whenever they sort after the table's last key, which is the case when
/// ids arrive in increasing order. Re-opening an existing cache with the same manifest resumes it:
/// `committedBatches` says how many batches are already there.
public final class CacheWriter {
    /// The environment directory.
    public let path: String
    /// The manifest as of the last commit.
    public private(set) var manifest: Manifest
    private let environment: LMDBEnvironment
    private let lock: WriterLock
    private let tables: [String: LMDBDatabase]
    /// The largest id in each table with 8-byte keys, for `MDB_APPEND`.
    private var lastIDs: [String: UInt64]
    private var closed = false
    /// Free bytes on the cache's file system, checked before each commit (tests play a full disk with it).
    var freeSpace: (String) -> Int? = DiskSpace.available

    /// Opens `path` for writing, creating the cache with `manifest` (counts are ignored) or resuming
    /// an existing one, which must have been created with the same pipeline, encoders and columns.
    public convenience init(path: String, manifest: Manifest, mapSize: Int = LMDBEnvironment.defaultMapSize) throws {
        try manifest.validate(path: path)
        try self.init(path: path, mapSize: mapSize) { _ in manifest }
    }

    /// Opens `path` for writing, once: `manifestFor` is given what the directory already holds (nil
    /// for a new cache) and returns the manifest to create the cache with or to resume it under,
    /// which must then match the stored one (`Manifest.resuming(as:path:)`).
    public init(path: String, mapSize: Int = LMDBEnvironment.defaultMapSize,
                manifestFor: (StoredCache?) throws -> Manifest) throws {
        let environment = try LMDBEnvironment.open(path: path, create: true, mapSize: mapSize)
        guard !environment.isReadOnly else { throw CacheError.io(path: path, reason: "cache directory is not writable") }
        lock = try WriterLock(directory: environment.path)
        // A damaged cache is not resumed: LMDB would write into, or crash on, its broken tree.
        if let damage = try LMDBPageWalk.check(directory: environment.path, limit: 2).first {
            throw CacheError.damaged(path: environment.path, reason: "it cannot be resumed: \(damage)")
        }
        try environment.clearStaleReaders()
        self.environment = environment
        self.path = environment.path

        let stored = try StoredCache.read(environment)
        let manifest = try manifestFor(stored)
        try manifest.validate(path: path)
        var names = [CacheLayout.metaTable, CacheLayout.failuresTable]
        for table in CacheLayout.checksummedIndexTables + manifest.columns.map(\.name) {
            names += [table, table + CacheLayout.checksumSuffix]
        }
        let tables = try environment.createDatabases(names)
        self.tables = tables
        // The manifest's transaction starts on a fresh handle too, so a writer killed between creating
        // the tables and writing the manifest resumes to the same bytes.
        try environment.renewHandle()

        if let existing = stored?.manifest {
            self.manifest = try existing.resuming(as: manifest, path: environment.path)
        } else {
            var fresh = manifest
            fresh.counts = Manifest.Counts()
            for index in fresh.columns.indices { fresh.columns[index].count = 0 }
            self.manifest = fresh
            let bytes = try fresh.encoded()
            try environment.write { transaction in
                guard let meta = tables[CacheLayout.metaTable] else { return }
                try CacheWriter.putManifest(bytes, meta: meta, in: transaction)
            }
        }
        // Every transaction starts on a fresh handle (see `LMDBEnvironment.renewHandle()`).
        try environment.renewHandle()
        lastIDs = try environment.read { transaction in
            var ids: [String: UInt64] = [:]
            for (name, table) in tables where name != CacheLayout.metaTable {
                if let key = try transaction.lastKey(table) {
                    ids[name] = key.withUnsafeBytes { SampleKey.id($0) }
                }
            }
            return ids
        }
    }

    /// Every failure recorded so far, in key order (read in this writer's environment).
    public func failures() throws -> [CacheFailure] {
        guard let table = tables[CacheLayout.failuresTable] else { return [] }
        return try environment.read { try $0.failures(in: table) }
    }

    /// Batches committed so far (including those of earlier runs on this cache).
    public var committedBatches: Int { manifest.counts.batches }

    /// The current memory map size in bytes (grows on demand).
    public var mapSize: Int { environment.mapSize }

    /// Commits `batch` in one transaction (growing the map and replaying it when the map is full).
    public func write(_ batch: CacheBatch) throws {
        try commit(batch, countsAsBatch: true, pipeline: nil)
    }

    /// Commits `batch` as a retry of inputs that earlier transactions recorded as failures: the ids
    /// the batch clears lose their failure records, the batch does not count as one of the build's
    /// transactions, and `pipeline` (when given) replaces the manifest's pipeline text, e.g. after the
    /// path of the failed inputs was fixed.
    public func writeRetry(_ batch: CacheBatch, pipeline: String?) throws {
        try commit(batch, countsAsBatch: false, pipeline: pipeline)
    }

    private func commit(_ batch: CacheBatch, countsAsBatch: Bool, pipeline: String?) throws {
        guard !closed else { throw CacheError.invalidArgument("write after close on \(path)") }
        try commit(try WritePlan(batch: batch, manifest: manifest), countsAsBatch: countsAsBatch, pipeline: pipeline)
    }

    /// Commits a planned transaction: every table's entries, the failures, then the manifest with the
    /// new counts; then renews the handle, so the next transaction's pages depend on the contents only.
    /// Free disk space is checked first, and a full disk is reported with the path and the bytes needed.
    func commit(_ plan: WritePlan, countsAsBatch: Bool = true, pipeline: String? = nil) throws {
        guard !closed else { throw CacheError.invalidArgument("write after close on \(path)") }
        let needed = plan.estimatedBytes
        if let free = freeSpace(path), free < needed {
            throw CacheError.diskFull(path: path, needed: needed, available: free)
        }
        do {
            try apply(plan, countsAsBatch: countsAsBatch, pipeline: pipeline)
        } catch let CacheError.lmdb(.system(code), _, _) where DiskSpace.meansFull(code) {
            // LMDB reports a full disk as the errno of the write that failed (ENOSPC, or EIO at commit).
            throw CacheError.diskFull(path: path, needed: needed, available: freeSpace(path) ?? 0)
        }
    }

    private func apply(_ plan: WritePlan, countsAsBatch: Bool, pipeline: String?) throws {
        let tables = tables
        let startIDs = lastIDs
        let startManifest = manifest
        let (committed, ids) = try environment.write { transaction -> (Manifest, [String: UInt64]) in
            var ids = startIDs
            for table in plan.tables {
                guard let values = tables[table.name], let sums = tables[table.name + CacheLayout.checksumSuffix] else {
                    throw CacheError.unknownColumn(table.name, path: path)
                }
                for entry in table.entries {
                    // Big-endian keys sort like the ids, so an id above the last one may be appended.
                    let append = ids[table.name].map { entry.id > $0 } ?? true
                    try entry.withBytes { try transaction.put(values, id: entry.id, value: $0, append: append) }
                    var crc = entry.checksum.littleEndian
                    try withUnsafeBytes(of: &crc) { try transaction.put(sums, id: entry.id, value: $0, append: append) }
                    if append { ids[table.name] = entry.id }
                }
            }
            if let failures = tables[CacheLayout.failuresTable] {
                for key in plan.clearedFailures {
                    _ = try key.withUnsafeBytes { try transaction.delete(failures, key: $0) }
                }
                for failure in plan.failures {
                    try failure.key.withUnsafeBytes { key in
                        try failure.reason.withUnsafeBytes { try transaction.put(failures, key: key, value: $0) }
                    }
                }
            }
            var next = startManifest
            if countsAsBatch { next.counts.batches += 1 }
            if let pipeline { next.pipeline = pipeline }
            next.counts.images = try count(CacheLayout.imagesTable, in: transaction)
            next.counts.captions = try count(CacheLayout.captionsTable, in: transaction)
            next.counts.failures = try count(CacheLayout.failuresTable, in: transaction)
            for index in next.columns.indices {
                next.columns[index].count = try count(next.columns[index].name, in: transaction)
            }
            let json = try next.encoded()
            if let meta = tables[CacheLayout.metaTable] {
                try CacheWriter.putManifest(json, meta: meta, in: transaction)
            }
            return (next, ids)
        }
        manifest = committed
        lastIDs = ids
        try environment.renewHandle()
    }

    private func count(_ table: String, in transaction: LMDBTransaction) throws -> Int {
        guard let database = tables[table] else { return 0 }
        return try transaction.entryCount(database)
    }

    /// Releases the writer lock. The environment closes when no reader uses it any more.
    public func close() {
        guard !closed else { return }
        closed = true
        lock.release()
    }

    deinit { close() }

    /// Stores the manifest JSON and its CRC-32 in `meta` (readers refuse a manifest that does not match).
    static func putManifest(_ json: Data, meta: LMDBDatabase, in transaction: LMDBWriteTransaction) throws {
        var crc = json.withUnsafeBytes { Checksum.crc32($0) }.littleEndian
        try json.withUnsafeBytes { try transaction.put(meta, key: CacheLayout.manifestKey, value: $0) }
        try withUnsafeBytes(of: &crc) { try transaction.put(meta, key: CacheLayout.manifestChecksumKey, value: $0) }
    }
}
