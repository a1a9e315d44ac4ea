import Foundation
import StrataTensor

/// One problem `CacheVerifier` found.
public struct CacheProblem: Equatable, Sendable, CustomStringConvertible {
    /// The table concerned.
    public let table: String
    /// The sample id, when the problem is one entry's.
    public let id: UInt64?
    /// What is wrong.
    public let message: String

    public var description: String {
        id.map { "\(table) [\($0)]: \(message)" } ?? "\(table): \(message)"
    }
}

/// Checks a whole cache: every value against its stored CRC-32, every value's size against its column,
/// every f32/f16/bf16 value for NaNs and infinities,
/// every index record against its format, and the manifest's counts against the tables.
public enum CacheVerifier {
    /// Structural problems of the cache's LMDB file (truncation, broken meta or tree pages, pages used
    /// twice or lost), found by reading its pages without LMDB, which would crash on a broken tree.
    /// Run it before opening a `CacheReader` on a cache that may be damaged; `verify(_:)` then checks
    /// the contents.
    public static func verifyStructure(path: String, limit: Int = 1000) throws -> [CacheProblem] {
        let environment: LMDBEnvironment
        do {
            environment = try LMDBEnvironment.open(path: path)
        } catch let CacheError.damaged(_, reason) {
            return [CacheProblem(table: "data.mdb", id: nil, message: reason)]
        }
        // A read transaction pins the snapshot being walked while a writer goes on.
        return try environment.read { transaction in
            try LMDBPageWalk.check(directory: environment.path, transaction: transaction.snapshotID, limit: limit)
        }
    }

    /// Problems found, at most `limit` (the scan goes on counting past it, but keeps no more).
    public static func verify(_ reader: CacheReader, limit: Int = 1000) throws -> [CacheProblem] {
        var problems: [CacheProblem] = []
        func report(_ table: String, _ id: UInt64?, _ message: String) {
            if problems.count < limit { problems.append(CacheProblem(table: table, id: id, message: message)) }
        }
        let manifest = reader.manifest
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        let transaction = snapshot.transaction

        var checked: [(name: String, expected: Int, column: Manifest.Column?)] = [
            (CacheLayout.imagesTable, manifest.counts.images, nil),
            (CacheLayout.captionsTable, manifest.counts.captions, nil),
        ]
        checked += manifest.columns.map { ($0.name, $0.count, $0) }
        for (name, expected, column) in checked {
            guard let values = reader.tables[name], let sums = reader.tables[name + CacheLayout.checksumSuffix] else {
                if expected > 0 { report(name, nil, "table is missing but the manifest counts \(expected) entries") }
                continue
            }
            let count = try transaction.entryCount(values)
            if count != expected { report(name, nil, "holds \(count) entries, the manifest says \(expected)") }
            let sumCount = try transaction.entryCount(sums)
            if sumCount != count { report(name, nil, "\(count) values but \(sumCount) checksums") }
            try transaction.forEach(values) { key, value in
                guard let id = SampleKey.id(key) else {
                    report(name, nil, "key of \(key.count) bytes, expected 8")
                    return true
                }
                guard let stored = try transaction.get(sums, id: id), stored.count == 4 else {
                    report(name, id, "no checksum")
                    return true
                }
                let expectedCRC = UInt32(littleEndian: stored.loadUnaligned(as: UInt32.self))
                let actualCRC = Checksum.crc32(value)
                if expectedCRC != actualCRC {
                    report(name, id, String(format: "checksum mismatch: stored %08x, value has %08x", expectedCRC, actualCRC))
                }
                do {
                    if let column {
                        if column.sampleShape(byteCount: value.count) == nil {
                            report(name, id, "\(value.count) bytes do not fit \(column.dtype) \(column.shape.map { $0.map(String.init) ?? "n" })")
                        } else if let index = Finite.firstNonFinite(bytes: value, dtype: column.dtype) {
                            report(name, id, "non-finite value (NaN or infinity) at element \(index)")
                        }
                    } else if name == CacheLayout.imagesTable {
                        _ = try ImageRecord.decode(value, id: id)
                    } else {
                        _ = try CaptionRecord.decode(value, id: id)
                    }
                } catch {
                    report(name, id, "\(error)")
                }
                return true
            }
        }
        if let failures = reader.tables[CacheLayout.failuresTable] {
            let count = try transaction.entryCount(failures)
            if count != manifest.counts.failures {
                report(CacheLayout.failuresTable, nil, "holds \(count) entries, the manifest says \(manifest.counts.failures)")
            }
            try transaction.forEach(failures) { key, _ in
                if FailureKey.parse(key) == nil { report(CacheLayout.failuresTable, nil, "malformed key of \(key.count) bytes") }
                return true
            }
        }
        let known = Set(reader.tables.keys)
        for name in try reader.environment.databaseNames() where !known.contains(name) {
            report(name, nil, "table is not described by the manifest")
        }
        return problems
    }
}
