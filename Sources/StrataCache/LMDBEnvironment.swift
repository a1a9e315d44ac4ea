import CLMDB
import Foundation

/// A named database (table) inside an environment. Handles stay valid as long as the environment is open.
public struct LMDBDatabase: Hashable, Sendable {
    /// The table's name.
    public let name: String
    let dbi: MDB_dbi
}

/// An open LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// There is at most one `LMDBEnvironment` per directory per process (`open(path:)` hands out the open
/// one), because LMDB's locks break when a process opens the same environment twice. Transactions are
/// created with `MDB_NOTLS`, so a read transaction belongs to its object, not to a thread; never share
/// one between threads. A handle opened before `fork()` refuses to work in the child.
///
/// The map grows by itself: a write that hits `MDB_MAP_FULL` (at a put or at commit) is aborted, the map
/// doubled, and the whole write replayed (see `write(_:)`).
public final class LMDBEnvironment: @unchecked Sendable {
    /// The environment directory.
    public let path: String
    /// Whether the environment was opened read-only (the directory is not writable).
    public let isReadOnly: Bool
    private(set) var handle: OpaquePointer
    let gate = MapGate()
    private let ownerPID: pid_t
    private let lock = NSLock()
    private var databases: [String: LMDBDatabase] = [:]

    /// Named databases an environment can hold.
    public static let maxDatabases: UInt32 = 512
    /// The map size of a new environment: 64 MiB (it grows on demand).
    public static let defaultMapSize = 64 << 20
    /// The largest map the environment will grow to.
    public static let maximumMapSize = 1 << 44

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [String: WeakEnvironment] = [:]

    /// The environment for `path` in this process, opening it (creating the directory when
    /// `create` is set) when it is not open yet.
    public static func open(path: String, create: Bool = false, mapSize: Int = defaultMapSize) throws -> LMDBEnvironment {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let key = url.resolvingSymlinksInPath().path
        registryLock.lock()
        defer { registryLock.unlock() }
        if let existing = registry[key]?.environment, existing.ownerPID == getpid() {
            return existing
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard create else { throw CacheError.io(path: url.path, reason: "no such cache directory") }
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw CacheError.io(path: url.path, reason: "cannot create directory: \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw CacheError.io(path: url.path, reason: "not a directory (a cache is an LMDB environment directory)")
        } else if !create, !FileManager.default.fileExists(atPath: url.appendingPathComponent("data.mdb").path) {
            // Opening would create data.mdb in a folder that is not a cache.
            throw CacheError.io(path: url.path, reason: "no data.mdb: not a cache directory")
        }
        try LMDBDataFile.checkBeforeOpening(directory: url.path)
        let environment = try LMDBEnvironment(path: url.path, mapSize: mapSize)
        registry[key] = WeakEnvironment(environment: environment)
        return environment
    }

    private init(path: String, mapSize: Int) throws {
        self.path = path
        let readOnly = access(path, W_OK) != 0
        let existed = FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("data.mdb").path)
        handle = try LMDBEnvironment.openHandle(path: path, mapSize: mapSize, readOnly: readOnly)
        if existed && !readOnly {
            // The map size the file records (what earlier writers grew it to), so a resumed writer
            // grows it at the same points as one that never stopped.
            try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize(0)", path: path)
        }
        isReadOnly = readOnly
        ownerPID = getpid()
    }

    private static func openHandle(path: String, mapSize: Int, readOnly: Bool) throws -> OpaquePointer {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create", path: path)
        guard let env else { throw CacheError.lmdb(.invalid, operation: "mdb_env_create", path: path) }
        do {
            try check(mdb_env_set_maxdbs(env, LMDBEnvironment.maxDatabases), "mdb_env_set_maxdbs", path: path)
            try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize", path: path)
            let flags = UInt32(MDB_NOTLS) | (readOnly ? UInt32(MDB_RDONLY) : 0)
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open", path: path)
        } catch {
            mdb_env_close(env)
            throw error
        }
        return env
    }

    /// Closes and reopens the LMDB handle (same map size, same table handles), waiting until no
    /// transaction of this process is live.
    ///
    /// LMDB keeps the page buffers of finished write transactions and hands them to later ones
    /// without clearing them, so the unused bytes inside written pages depend on everything the
    /// handle wrote before. A writer that renews the handle after each commit writes pages that
    /// depend only on the cache's contents: a resumed build then leaves the same file, byte for
    /// byte, as one that never stopped.
    func renewHandle() throws {
        try checkProcess()
        try gate.exclusively {
            lock.lock()
            defer { lock.unlock() }
            let size = mapSize
            mdb_env_close(handle)
            handle = try LMDBEnvironment.openHandle(path: path, mapSize: size, readOnly: isReadOnly)
            // Reopen the tables in the order of their handles, so every handle keeps its number.
            let known = databases.values.sorted { $0.dbi < $1.dbi }
            guard !known.isEmpty else { return }
            var txn: OpaquePointer?
            try check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin (reopen tables)", path: path)
            guard let txn else { throw CacheError.lmdb(.badTransaction, operation: "mdb_txn_begin (reopen tables)", path: path) }
            for database in known {
                var dbi: MDB_dbi = 0
                let code = mdb_dbi_open(txn, database.name, 0, &dbi)
                if code != 0 { mdb_txn_abort(txn) }
                try check(code, "mdb_dbi_open '\(database.name)' (reopen)", path: path)
                guard dbi == database.dbi else {
                    mdb_txn_abort(txn)
                    throw CacheError.lmdb(.invalid, operation: "reopen '\(database.name)' as handle \(dbi), was \(database.dbi)", path: path)
                }
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit (reopen tables)", path: path)
        }
    }

    deinit {
        // A child process after fork() must not touch the parent's environment; it is leaked there.
        if ownerPID == getpid() { mdb_env_close(handle) }
    }

    /// Throws unless this is the process that opened the environment.
    func checkProcess() throws {
        if getpid() != ownerPID { throw CacheError.usedAfterFork(path: path) }
    }

    /// The current size of the memory map in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// The database page size in bytes.
    public var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        return Int(stat.ms_psize)
    }

    // MARK: Transactions

    /// Starts a read transaction (a consistent snapshot). Use it on one thread at a time.
    public func beginRead() throws -> LMDBReadTransaction {
        try LMDBReadTransaction(environment: self)
    }

    /// Runs `body` in a read transaction.
    public func read<R>(_ body: (LMDBReadTransaction) throws -> R) throws -> R {
        let transaction = try beginRead()
        defer { transaction.end() }
        return try body(transaction)
    }

    /// Runs `body` in a write transaction and commits it.
    ///
    /// When a put or the commit fails with `MDB_MAP_FULL`, the transaction is aborted, the map doubled
    /// and `body` run again in a fresh transaction, so `body` must be replayable: it may only change
    /// state outside the transaction after `write` returns. Do not call it while the same thread holds
    /// a read transaction of this environment (the resize waits for it).
    public func write<R>(_ body: (LMDBWriteTransaction) throws -> R) throws -> R {
        while true {
            let transaction = try beginWrite()
            do {
                let result = try body(transaction)
                try transaction.commit()
                return result
            } catch let error as CacheError where error.isMapFull {
                transaction.abort()
                try growMap()
            } catch {
                transaction.abort()
                throw error
            }
        }
    }

    func beginWrite() throws -> LMDBWriteTransaction {
        try checkProcess()
        while true {
            var txn: OpaquePointer?
            let code = mdb_txn_begin(handle, nil, 0, &txn)
            if code == MDB_MAP_RESIZED {
                try adoptGrownMap()
                continue
            }
            try check(code, "mdb_txn_begin (write)", path: path)
            guard let txn else { throw CacheError.lmdb(.badTransaction, operation: "mdb_txn_begin (write)", path: path) }
            return LMDBWriteTransaction(environment: self, handle: txn)
        }
    }

    /// Begins a read-only LMDB transaction, adopting a map another process grew. The caller has entered the gate.
    func beginReadHandle() throws -> OpaquePointer {
        try checkProcess()
        while true {
            var txn: OpaquePointer?
            let code = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
            if code == MDB_MAP_RESIZED {
                gate.exitRead()
                defer { gate.enterRead() }
                try adoptGrownMap()
                continue
            }
            try check(code, "mdb_txn_begin (read)", path: path)
            guard let txn else { throw CacheError.lmdb(.badTransaction, operation: "mdb_txn_begin (read)", path: path) }
            return txn
        }
    }

    /// Doubles the memory map. No transaction of this process may be live (the gate waits for readers).
    func growMap() throws {
        try gate.exclusively {
            let current = mapSize
            guard current < LMDBEnvironment.maximumMapSize else {
                throw CacheError.lmdb(.mapFull, operation: "grow map beyond \(current) bytes", path: path)
            }
            try check(mdb_env_set_mapsize(handle, current * 2), "mdb_env_set_mapsize(\(current * 2))", path: path)
        }
    }

    /// Takes over the larger map size another process wrote into the environment.
    private func adoptGrownMap() throws {
        try gate.exclusively {
            try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize(0) after MDB_MAP_RESIZED", path: path)
        }
    }

    /// Frees reader slots of processes that died (killed writers or loaders), so their snapshots
    /// no longer keep old pages from being reused.
    func clearStaleReaders() throws {
        var dead: Int32 = 0
        try check(mdb_reader_check(handle, &dead), "mdb_reader_check", path: path)
    }

    // MARK: Databases

    /// The named database `name`, or nil when it does not exist.
    public func database(_ name: String) throws -> LMDBDatabase? {
        lock.lock()
        defer { lock.unlock() }
        if let known = databases[name] { return known }
        let transaction = try beginRead()
        var dbi: MDB_dbi = 0
        let code = mdb_dbi_open(transaction.handle, name, 0, &dbi)
        if code == MDB_NOTFOUND {
            transaction.end()
            return nil
        }
        defer { transaction.end() }
        try check(code, "mdb_dbi_open '\(name)'", path: path)
        // Committing a read-only transaction makes the handle usable by every later transaction.
        try transaction.commitHandles()
        let database = LMDBDatabase(name: name, dbi: dbi)
        databases[name] = database
        return database
    }

    /// Opens all of `names`, creating the missing ones, in one small write transaction of their own
    /// (a handle created inside a transaction that is later aborted would be lost).
    public func createDatabases(_ names: [String]) throws -> [String: LMDBDatabase] {
        lock.lock()
        defer { lock.unlock() }
        let missing = names.filter { databases[$0] == nil }
        if !missing.isEmpty {
            let opened: [LMDBDatabase] = try write { transaction in
                try missing.map { name in
                    var dbi: MDB_dbi = 0
                    try check(mdb_dbi_open(transaction.handle, name, UInt32(MDB_CREATE), &dbi),
                              "mdb_dbi_open '\(name)' (create)", path: path)
                    return LMDBDatabase(name: name, dbi: dbi)
                }
            }
            for database in opened { databases[database.name] = database }
        }
        return Dictionary(uniqueKeysWithValues: names.compactMap { name in databases[name].map { (name, $0) } })
    }

    /// The names of all named databases, read from the main database.
    public func databaseNames() throws -> [String] {
        try read { transaction in
            var main: MDB_dbi = 0
            try check(mdb_dbi_open(transaction.handle, nil, 0, &main), "mdb_dbi_open (main)", path: path)
            var names: [String] = []
            try transaction.forEach(LMDBDatabase(name: "<main>", dbi: main)) { key, _ in
                names.append(String(decoding: key, as: UTF8.self))
                return true
            }
            return names
        }
    }
}

private struct WeakEnvironment {
    weak var environment: LMDBEnvironment?
}
