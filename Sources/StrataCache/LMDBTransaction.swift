import CLMDB
import Foundation

/// What read and write transactions share: lookups, counts and ordered iteration.
///
/// Buffers returned by `get` and handed to `forEach` point into the memory map and are valid only until
/// the transaction ends, resets or writes.
public class LMDBTransaction {
    let environment: LMDBEnvironment
    var handle: OpaquePointer

    init(environment: LMDBEnvironment, handle: OpaquePointer) {
        self.environment = environment
        self.handle = handle
    }

    var path: String { environment.path }

    /// The id of the transaction this one reads (a read transaction) or will commit (a write one).
    var snapshotID: UInt64 { UInt64(mdb_txn_id(handle)) }

    /// The value stored under `key`, or nil.
    public func get(_ database: LMDBDatabase, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let code = mdb_get(handle, database.dbi, &k, &v)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "mdb_get in '\(database.name)'", path: path)
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    /// The value stored under the 8-byte big-endian key of `id`, or nil.
    public func get(_ database: LMDBDatabase, id: UInt64) throws -> UnsafeRawBufferPointer? {
        var key = SampleKey.bytes(id)
        return try withUnsafeBytes(of: &key) { try get(database, key: $0) }
    }

    /// The value stored under a text key (used by the `meta` table), or nil.
    public func get(_ database: LMDBDatabase, key: String) throws -> UnsafeRawBufferPointer? {
        var text = key
        return try text.withUTF8 { try get(database, key: UnsafeRawBufferPointer($0)) }
    }

    /// The number of entries in `database`.
    public func entryCount(_ database: LMDBDatabase) throws -> Int {
        try statistics(database).ms_entries
    }

    /// Bytes of pages `database` occupies (branch, leaf and overflow pages).
    public func byteSize(_ database: LMDBDatabase) throws -> Int {
        let stat = try statistics(database)
        return (stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages) * Int(stat.ms_psize)
    }

    private func statistics(_ database: LMDBDatabase) throws -> MDB_stat {
        var stat = MDB_stat()
        try check(mdb_stat(handle, database.dbi, &stat), "mdb_stat '\(database.name)'", path: path)
        return stat
    }

    /// Calls `body` for every entry in key order, from `start` (inclusive) when given, until it returns false.
    public func forEach(_ database: LMDBDatabase, from start: UnsafeRawBufferPointer? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let cursor = try LMDBCursor(transaction: self, database: database)
        defer { cursor.close() }
        var entry = try start.map { try cursor.seek($0) } ?? cursor.move(MDB_FIRST)
        while let (key, value) = entry {
            guard try body(key, value) else { return }
            entry = try cursor.move(MDB_NEXT)
        }
    }

    /// The largest key in `database`, or nil when it is empty.
    public func lastKey(_ database: LMDBDatabase) throws -> [UInt8]? {
        let cursor = try LMDBCursor(transaction: self, database: database)
        defer { cursor.close() }
        return try cursor.move(MDB_LAST).map { Array($0.key) }
    }
}

/// A read-only snapshot. Create it, use it and end it on one thread at a time (never share it).
///
/// `reset()` releases the snapshot cheaply and `renew()` takes a fresh one, reusing the reader slot.
public final class LMDBReadTransaction: LMDBTransaction {
    private var live = true
    private var open = true

    init(environment: LMDBEnvironment) throws {
        environment.gate.enterRead()
        do {
            let txn = try environment.beginReadHandle()
            super.init(environment: environment, handle: txn)
        } catch {
            environment.gate.exitRead()
            throw error
        }
    }

    /// Releases the snapshot but keeps the handle for `renew()`.
    public func reset() {
        guard open, live else { return }
        mdb_txn_reset(handle)
        live = false
        environment.gate.exitRead()
    }

    /// Takes a fresh snapshot after `reset()`.
    public func renew() throws {
        guard open, !live else { return }
        try environment.checkProcess()
        environment.gate.enterRead()
        let code = mdb_txn_renew(handle)
        if code == MDB_SUCCESS {
            live = true
            return
        }
        // The map may have grown in another process: start over with a new transaction.
        environment.gate.exitRead()
        mdb_txn_abort(handle)
        open = false
        guard code == MDB_MAP_RESIZED else {
            try check(code, "mdb_txn_renew", path: path)
            return
        }
        environment.gate.enterRead()
        do {
            handle = try environment.beginReadHandle()
            open = true
            live = true
        } catch {
            environment.gate.exitRead()
            throw error
        }
    }

    /// Ends the transaction; later calls are no-ops.
    public func end() {
        guard open else { return }
        mdb_txn_abort(handle)
        open = false
        if live { environment.gate.exitRead() }
        live = false
    }

    /// Commits a read-only transaction so that database handles it opened become environment-wide.
    func commitHandles() throws {
        guard open else { return }
        let code = mdb_txn_commit(handle)
        open = false
        if live { environment.gate.exitRead() }
        live = false
        try check(code, "mdb_txn_commit (read)", path: path)
    }

    deinit { end() }
}

/// The single write transaction of an environment. Use it only on the thread that began it.
public final class LMDBWriteTransaction: LMDBTransaction {
    private var open = true

    /// Stores `value` under `key`. `append` uses `MDB_APPEND`: the key must sort after every key
    /// in the table (bulk loads in key order get much faster).
    public func put(_ database: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                    append: Bool = false) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(handle, database.dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0),
                  "mdb_put in '\(database.name)'", path: path)
    }

    /// Stores `value` under the 8-byte big-endian key of `id`.
    public func put(_ database: LMDBDatabase, id: UInt64, value: UnsafeRawBufferPointer, append: Bool = false) throws {
        var key = SampleKey.bytes(id)
        try withUnsafeBytes(of: &key) { try put(database, key: $0, value: value, append: append) }
    }

    /// Stores `value` under a text key.
    public func put(_ database: LMDBDatabase, key: String, value: UnsafeRawBufferPointer) throws {
        var text = key
        try text.withUTF8 { try put(database, key: UnsafeRawBufferPointer($0), value: value) }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ database: LMDBDatabase, key: UnsafeRawBufferPointer) throws -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let code = mdb_del(handle, database.dbi, &k, nil)
        if code == MDB_NOTFOUND { return false }
        try check(code, "mdb_del in '\(database.name)'", path: path)
        return true
    }

    /// Commits. LMDB frees the transaction whether or not the commit succeeds.
    func commit() throws {
        guard open else { return }
        open = false
        try check(mdb_txn_commit(handle), "mdb_txn_commit", path: path)
    }

    /// Abandons every change; later calls are no-ops.
    func abort() {
        guard open else { return }
        open = false
        mdb_txn_abort(handle)
    }

    deinit { abort() }
}

/// A cursor over one table of one transaction, closed before the transaction ends.
final class LMDBCursor {
    private let handle: OpaquePointer
    private let database: LMDBDatabase
    private let path: String
    private var open = true

    init(transaction: LMDBTransaction, database: LMDBDatabase) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(transaction.handle, database.dbi, &cursor),
                  "mdb_cursor_open '\(database.name)'", path: transaction.path)
        guard let cursor else {
            throw CacheError.lmdb(.invalid, operation: "mdb_cursor_open '\(database.name)'", path: transaction.path)
        }
        handle = cursor
        self.database = database
        path = transaction.path
    }

    /// Moves with `operation` (`MDB_FIRST`, `MDB_NEXT`, `MDB_LAST`, ...); nil past either end.
    func move(_ operation: MDB_cursor_op) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var k = MDB_val()
        return try fetch(&k, operation)
    }

    /// Moves to the first key at or after `key`.
    func seek(_ key: UnsafeRawBufferPointer) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        return try fetch(&k, MDB_SET_RANGE)
    }

    private func fetch(_ k: inout MDB_val, _ operation: MDB_cursor_op) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var v = MDB_val()
        let code = mdb_cursor_get(handle, &k, &v, operation)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "mdb_cursor_get(\(operation.rawValue)) in '\(database.name)'", path: path)
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    func close() {
        guard open else { return }
        open = false
        mdb_cursor_close(handle)
    }
}

/// Sample ids as LMDB keys: 8 bytes, big-endian, so key order is numeric order.
public enum SampleKey {
    /// The key bytes of `id`, as a tuple-sized integer whose memory is big-endian.
    @inline(__always)
    public static func bytes(_ id: UInt64) -> UInt64 { id.bigEndian }

    /// The id stored in an 8-byte key, or nil when the key is not 8 bytes.
    @inline(__always)
    public static func id(_ key: UnsafeRawBufferPointer) -> UInt64? {
        guard key.count == 8 else { return nil }
        return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
    }
}
