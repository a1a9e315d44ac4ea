import CLMDB
import Foundation

/// A status code returned by LMDB, one case per documented `MDB_*` error, plus the system `errno`s it passes on.
public enum LMDBStatus: Equatable, Sendable, CustomStringConvertible {
    case keyExists, notFound, pageNotFound, corrupted, panic, versionMismatch, invalid, mapFull, databasesFull
    case readersFull, threadLocalStorageFull, transactionFull, cursorStackFull, pageFull, mapResized
    case incompatible, badReaderSlot, badTransaction, badValueSize, badDatabaseHandle
    /// A system error (`errno`) such as `ENOENT`, `EACCES`, `ENOMEM` or `EINVAL`.
    case system(Int32)

    /// The status for a non-zero LMDB return code.
    public init(code: Int32) {
        switch code {
        case MDB_KEYEXIST: self = .keyExists
        case MDB_NOTFOUND: self = .notFound
        case MDB_PAGE_NOTFOUND: self = .pageNotFound
        case MDB_CORRUPTED: self = .corrupted
        case MDB_PANIC: self = .panic
        case MDB_VERSION_MISMATCH: self = .versionMismatch
        case MDB_INVALID: self = .invalid
        case MDB_MAP_FULL: self = .mapFull
        case MDB_DBS_FULL: self = .databasesFull
        case MDB_READERS_FULL: self = .readersFull
        case MDB_TLS_FULL: self = .threadLocalStorageFull
        case MDB_TXN_FULL: self = .transactionFull
        case MDB_CURSOR_FULL: self = .cursorStackFull
        case MDB_PAGE_FULL: self = .pageFull
        case MDB_MAP_RESIZED: self = .mapResized
        case MDB_INCOMPATIBLE: self = .incompatible
        case MDB_BAD_RSLOT: self = .badReaderSlot
        case MDB_BAD_TXN: self = .badTransaction
        case MDB_BAD_VALSIZE: self = .badValueSize
        case MDB_BAD_DBI: self = .badDatabaseHandle
        default: self = .system(code)
        }
    }

    /// The code LMDB uses for this status.
    public var code: Int32 {
        switch self {
        case .keyExists: return MDB_KEYEXIST
        case .notFound: return MDB_NOTFOUND
        case .pageNotFound: return MDB_PAGE_NOTFOUND
        case .corrupted: return MDB_CORRUPTED
        case .panic: return MDB_PANIC
        case .versionMismatch: return MDB_VERSION_MISMATCH
        case .invalid: return MDB_INVALID
        case .mapFull: return MDB_MAP_FULL
        case .databasesFull: return MDB_DBS_FULL
        case .readersFull: return MDB_READERS_FULL
        case .threadLocalStorageFull: return MDB_TLS_FULL
        case .transactionFull: return MDB_TXN_FULL
        case .cursorStackFull: return MDB_CURSOR_FULL
        case .pageFull: return MDB_PAGE_FULL
        case .mapResized: return MDB_MAP_RESIZED
        case .incompatible: return MDB_INCOMPATIBLE
        case .badReaderSlot: return MDB_BAD_RSLOT
        case .badTransaction: return MDB_BAD_TXN
        case .badValueSize: return MDB_BAD_VALSIZE
        case .badDatabaseHandle: return MDB_BAD_DBI
        case let .system(errno): return errno
        }
    }

    /// LMDB's own text for the code (`mdb_strerror`, which covers `errno` values too).
    public var description: String {
        String(cString: mdb_strerror(code))
    }
}

/// Everything that can go wrong while opening, writing, reading or checking a feature cache.
public enum CacheError: Error, CustomStringConvertible, Equatable {
    /// An LMDB call failed; `operation` names the call (and the table or key when there is one).
    case lmdb(LMDBStatus, operation: String, path: String)
    /// Another writer holds the cache's writer lock.
    case writerBusy(path: String)
    /// An environment opened before `fork()` was used in the child process.
    case usedAfterFork(path: String)
    /// The cache has no manifest (not a Strata cache, or created but never committed).
    case manifestMissing(path: String)
    /// The manifest could not be decoded or contradicts itself.
    case manifestInvalid(path: String, reason: String)
    /// The manifest's format version is not one this build reads.
    case unsupportedFormatVersion(path: String, found: Int, supported: Int)
    /// A column name that the manifest's catalog does not list.
    case unknownColumn(String, path: String)
    /// A value whose size does not fit its column's dtype and per-sample shape.
    case valueSizeMismatch(column: String, id: UInt64, expectedBytes: Int, actualBytes: Int)
    /// A tensor handed to the writer with the wrong dtype or shape for its column.
    case tensorMismatch(column: String, id: UInt64, reason: String)
    /// A sample the loader or exporter needs has no value in a column.
    case valueMissing(column: String, id: UInt64, path: String)
    /// An `images` or `captions` record that does not follow the documented format.
    case badRecord(table: String, id: UInt64, reason: String)
    /// The cache's files are damaged (truncated, overwritten): found before LMDB touched them.
    case damaged(path: String, reason: String)
    /// The disk holding the cache is full (or failed a write): `needed` bytes for the commit, `available` free.
    case diskFull(path: String, needed: Int, available: Int)
    /// A file-system operation on the cache failed.
    case io(path: String, reason: String)
    /// An argument out of range (batch size, thread count, ...).
    case invalidArgument(String)
    /// Parts of a split build that a merge needs and cannot find: each `I-of-N` and where it was looked for.
    case partsMissing(names: [String], looked: [String])
    /// A part a merge cannot use: not a part, incomplete, damaged or from a different build.
    case partRefused(path: String, reason: String)

    public var description: String {
        switch self {
        case let .lmdb(status, operation, path):
            return "\(path): LMDB \(operation) failed: \(status) (code \(status.code))"
        case let .writerBusy(path):
            return "\(path): another process or writer is writing this cache (writer lock held)"
        case let .usedAfterFork(path):
            return "\(path): LMDB handle opened in the parent process was used after fork(); open the cache again in the child"
        case let .manifestMissing(path):
            return "\(path): no manifest in the 'meta' table (not a Strata cache, or nothing was committed)"
        case let .manifestInvalid(path, reason):
            return "\(path): invalid manifest: \(reason)"
        case let .unsupportedFormatVersion(path, found, supported):
            return "\(path): cache format version \(found) is not supported (this build reads version \(supported))"
        case let .unknownColumn(name, path):
            return "\(path): no column named '\(name)' in the manifest"
        case let .valueSizeMismatch(column, id, expected, actual):
            return "column '\(column)', sample \(id): value has \(actual) bytes, expected \(expected)"
        case let .tensorMismatch(column, id, reason):
            return "column '\(column)', sample \(id): \(reason)"
        case let .valueMissing(column, id, path):
            return "\(path): column '\(column)' has no value for sample \(id)"
        case let .badRecord(table, id, reason):
            return "table '\(table)', id \(id): bad record: \(reason)"
        case let .damaged(path, reason):
            return "\(path): damaged cache: \(reason). `strata verify` lists what is damaged; restore the cache from a good copy, or delete it and build again"
        case let .diskFull(path, needed, available):
            return "\(path): the disk is full (or failed a write): this commit needs about \(needed) bytes and \(available) are free. Free space or move the cache, then run the same command again: everything committed before is kept"
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .invalidArgument(reason):
            return "invalid argument: \(reason)"
        case let .partsMissing(names, looked):
            let listed = zip(names, looked).map { $1.isEmpty ? $0 : "\($0) (looked for \($1))" }
            return "cannot merge: missing part\(names.count == 1 ? "" : "s") \(listed.joined(separator: ", ")); build \(names.count == 1 ? "it" : "them") with strata build PIPELINE --part I/N"
        case let .partRefused(path, reason):
            return "\(path): cannot merge this part: \(reason)"
        }
    }

    /// Whether this is LMDB's `MDB_MAP_FULL`, which the write path answers by growing the map.
    var isMapFull: Bool {
        if case .lmdb(.mapFull, _, _) = self { return true }
        return false
    }
}

/// Turns an LMDB return code into a thrown `CacheError.lmdb`.
@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String, path: String) throws {
    if code != MDB_SUCCESS {
        throw CacheError.lmdb(LMDBStatus(code: code), operation: operation(), path: path)
    }
}
