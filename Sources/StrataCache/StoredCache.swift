import Foundation

/// What a cache directory held when a writer opened it: its manifest and a way to read its failures
/// in the writer's own environment, so a build decides how to resume without opening the cache twice.
public struct StoredCache {
    /// The committed manifest.
    public let manifest: Manifest
    private let environment: LMDBEnvironment
    private let failuresTable: LMDBDatabase?

    /// The stored cache of `environment`, or nil when it has no manifest yet (a new cache, or one whose
    /// first transaction never committed).
    static func read(_ environment: LMDBEnvironment) throws -> StoredCache? {
        guard let meta = try environment.database(CacheLayout.metaTable),
              let manifest = try manifest(in: environment, meta: meta) else { return nil }
        return StoredCache(manifest: manifest, environment: environment,
                           failuresTable: try environment.database(CacheLayout.failuresTable))
    }

    /// Every recorded failure, in key order.
    public func failures() throws -> [CacheFailure] {
        guard let failuresTable else { return [] }
        return try environment.read { try $0.failures(in: failuresTable) }
    }

    /// The manifest stored in `meta`, checked against its CRC-32; nil when none was written.
    static func manifest(in environment: LMDBEnvironment, meta: LMDBDatabase) throws -> Manifest? {
        try environment.read { transaction in
            guard let bytes = try transaction.get(meta, key: CacheLayout.manifestKey) else { return nil }
            // Caches written before the checksum was kept have none.
            if let stored = try transaction.get(meta, key: CacheLayout.manifestChecksumKey) {
                let actual = Checksum.crc32(bytes)
                guard stored.count == 4, UInt32(littleEndian: stored.loadUnaligned(as: UInt32.self)) == actual else {
                    throw CacheError.damaged(path: environment.path, reason: String(format: "the manifest does not match its stored CRC-32 (it has %08x): it was edited or damaged", actual))
                }
            }
            return try Manifest.decode(Data(bytes), path: environment.path)
        }
    }
}

extension Manifest {
    /// This stored manifest, to be resumed by a writer that would create `proposed`: the two must
    /// describe the same cache (pipeline text, encoders and their gemm, preprocessing, tokenizer,
    /// columns, part) apart from the counts, or the cache is refused with what changed.
    func resuming(as proposed: Manifest, path: String) throws -> Manifest {
        var comparable = proposed
        comparable.columns = zip(proposed.columns, columns).map { mine, theirs in
            var column = mine
            column.count = theirs.count
            return column
        }
        comparable.counts = counts
        if part?.name != proposed.part?.name {
            let theirs = part.map { "part \($0.name) of a build" } ?? "a whole cache"
            let ours = proposed.part.map { "part \($0.name)" } ?? "a whole cache"
            throw CacheError.manifestInvalid(path: path, reason: "the directory holds \(theirs); this run writes \(ours); write to a new directory")
        }
        // Caches from before the gemm was recorded were computed with OpenBLAS.
        let theirGemm = encoders.map { $0.gemm ?? "openblas" }
        let ourGemm = comparable.encoders.map { $0.gemm ?? "openblas" }
        if encoders.count == comparable.encoders.count {
            guard theirGemm == ourGemm else {
                throw CacheError.manifestInvalid(path: path,
                    reason: "the cache's features were computed with gemm \(theirGemm.joined(separator: ", ")) and this run uses \(ourGemm.joined(separator: ", ")), which differ in rounding; resume with STRATA_GEMM=openblas if the cache used it, or write to a new directory")
            }
            for index in comparable.encoders.indices { comparable.encoders[index].gemm = encoders[index].gemm }
        }
        guard comparable == self, proposed.columns.count == columns.count else {
            throw CacheError.manifestInvalid(path: path,
                                             reason: "the cache was built with different settings; changed: \(differences(to: comparable).joined(separator: "; ")); write to a new directory")
        }
        return self
    }
}
