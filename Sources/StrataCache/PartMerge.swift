import Foundation

/// Merges the part caches of a build split into N parts (`strata build --part I/N`) into the cache a
/// single `strata build` of the same pipeline writes, byte for byte.
///
/// Each part's manifest lists the shards (transactions of the whole build) it holds and the image ids
/// each covers. The merge checks that all N parts are there, complete and built alike, then replays the
/// shards in the whole build's order through the writer's own transaction path (`CacheWriter.commit`),
/// one transaction per shard with the same tables, keys and order of puts, so LMDB lays out the same
/// pages. Like a build it can be stopped and resumed: the output's committed transactions say how many
/// shards are merged. The parts are only read.
public enum PartMerge {
    /// Where the parts of `cache` are written by default: `CACHE.parts`.
    public static func partsFolder(of cache: URL) -> URL {
        let standard = cache.standardizedFileURL
        return standard.deletingLastPathComponent().appendingPathComponent(standard.lastPathComponent + ".parts")
    }

    /// The default folder of part `index` of `count`: `CACHE.parts/I-of-N`.
    public static func partFolder(of cache: URL, index: Int, count: Int) -> URL {
        partsFolder(of: cache).appendingPathComponent("\(index)-of-\(count)")
    }

    /// The part folders in `CACHE.parts` (named `I-of-N`), all of one split.
    public static func discover(cache: URL) throws -> [URL] {
        let folder = partsFolder(of: cache)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw CacheError.io(path: folder.path, reason: "no parts folder; build the parts with strata build PIPELINE --part I/N")
        }
        var byCount: [Int: [String]] = [:]
        for name in names {
            let fields = name.split(separator: "-", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[1] == "of", let index = Int(fields[0]), let count = Int(fields[2]),
                  index >= 0, index < count else { continue }
            byCount[count, default: []].append(name)
        }
        guard !byCount.isEmpty else {
            throw CacheError.io(path: folder.path, reason: "no part folders (named I-of-N) here; build them with strata build PIPELINE --part I/N")
        }
        guard byCount.count == 1, let found = byCount.first?.value else {
            let splits = byCount.keys.sorted().map { "\($0) parts (\(byCount[$0]?.sorted().joined(separator: ", ") ?? ""))" }
            throw CacheError.io(path: folder.path, reason: "holds parts of different splits: \(splits.joined(separator: "; ")); remove the stale ones or name the parts to merge: strata merge OUT PART...")
        }
        return found.sorted { $0.localizedStandardCompare($1) == .orderedAscending }.map { folder.appendingPathComponent($0) }
    }

    /// What a merge did.
    public struct Outcome: Sendable {
        /// The merged cache's directory.
        public var cache: String
        /// The parts merged, in part order.
        public var parts: [String]
        /// Shards the output already held when this run started.
        public var firstShard: Int
        /// Shards the output holds now.
        public var committedShards: Int
        /// Shards of the whole build.
        public var totalShards: Int
        /// The output's manifest as committed.
        public var manifest: Manifest

        /// Whether every shard is merged.
        public var isComplete: Bool { committedShards == totalShards }
    }

    /// Checks `parts` (all N parts of one build, in any order) and merges them into `output`, resuming
    /// a merge that stopped. `lookedFor(index, count)` says where a missing part was expected, for the
    /// error; `shouldStop` is asked after each shard; `log` gets a line every few seconds.
    public static func merge(parts paths: [URL], into output: URL, lookedFor: (Int, Int) -> String = { _, _ in "" },
                             shouldStop: () -> Bool = { false }, log: (String) -> Void = { _ in }) throws -> Outcome {
        let parts = try check(paths, lookedFor: lookedFor)
        let target = output.standardizedFileURL.resolvingSymlinksInPath().path
        for part in parts where URL(fileURLWithPath: part.reader.path).resolvingSymlinksInPath().path == target {
            throw CacheError.invalidArgument("the output \(output.path) is one of the parts; merge into another directory")
        }
        guard let first = parts.first else { throw CacheError.invalidArgument("no parts to merge") }
        let total = first.part.totalShards
        var owners: [(part: LoadedPart, shard: Manifest.Part.Shard)?] = Array(repeating: nil, count: total)
        for part in parts {
            for shard in part.part.shards { owners[shard.shard] = (part, shard) }
        }

        let writer = try CacheWriter(path: output.path, manifest: first.wholeManifest)
        defer { writer.close() }
        let firstShard = writer.committedBatches
        guard firstShard <= total else {
            throw CacheError.manifestInvalid(path: writer.path, reason: "holds \(firstShard) transactions, the parts have \(total) shards in all")
        }
        var next = firstShard
        var lastLog = Date()
        while next < total, !shouldStop() {
            guard let (part, shard) = owners[next] else {
                throw CacheError.invalidArgument("no part holds shard \(next)")
            }
            try writer.commit(try part.copy(shard))
            next += 1
            if Date().timeIntervalSince(lastLog) >= 5 || next == total {
                log("merge: \(next)/\(total) shards\n")
                lastLog = Date()
            }
        }
        return Outcome(cache: writer.path, parts: parts.map(\.reader.path), firstShard: firstShard, committedShards: next,
                       totalShards: total, manifest: writer.manifest)
    }

    /// Opens every part and checks that together they are one whole build: each a part cache, all of
    /// the same N with none missing or given twice, each complete, all from the same pipeline, weights,
    /// tokenizer and gemm, and their shards covering the whole build once. Returns them in part order.
    static func check(_ paths: [URL], lookedFor: (Int, Int) -> String) throws -> [LoadedPart] {
        guard !paths.isEmpty else { throw CacheError.invalidArgument("no parts to merge") }
        var parts: [LoadedPart] = []
        for path in paths { parts.append(try LoadedPart(path)) }

        // The split most parts agree on names the odd ones.
        let count = mostCommon(parts.map(\.part.count)) ?? 0
        var byIndex: [Int: LoadedPart] = [:]
        for part in parts {
            guard part.part.count == count else {
                throw CacheError.partRefused(path: part.reader.path, reason: "it is part \(part.part.name), of a build split into \(part.part.count) parts; the others are of \(count)")
            }
            if let other = byIndex[part.part.index] {
                throw CacheError.partRefused(path: part.reader.path, reason: "part \(part.part.name) is given twice (also \(other.reader.path))")
            }
            byIndex[part.part.index] = part
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            throw CacheError.partsMissing(names: missing.map { "\($0)-of-\(count)" }, looked: missing.map { lookedFor($0, count) })
        }
        let ordered = (0..<count).compactMap { byIndex[$0] }
        for part in ordered where part.reader.manifest.counts.batches < part.part.shards.count {
            throw CacheError.partRefused(path: part.reader.path, reason: "part \(part.part.name) is incomplete: \(part.reader.manifest.counts.batches) of its \(part.part.shards.count) shards are committed; run its build again (strata build PIPELINE --part \(part.part.index)/\(count)) to finish it")
        }

        let keys = try ordered.map { try $0.wholeManifest.encoded() }
        guard let common = mostCommon(keys), let reference = ordered.first(where: { (try? $0.wholeManifest.encoded()) == common }) else {
            throw CacheError.invalidArgument("no parts to merge")
        }
        for (part, key) in zip(ordered, keys) where key != common {
            throw CacheError.partRefused(path: part.reader.path, reason: "part \(part.part.name) is from a different build than part \(reference.part.name) (\(reference.reader.path)): "
                                         + differences(part.wholeManifest, reference.wholeManifest).joined(separator: "; "))
        }
        var holder: [Int: String] = [:]
        for part in ordered {
            guard part.part.totalShards == reference.part.totalShards else {
                throw CacheError.partRefused(path: part.reader.path, reason: "part \(part.part.name) plans \(part.part.totalShards) shards in all, part \(reference.part.name) \(reference.part.totalShards) (was the dataset changed between the parts' builds?)")
            }
            for shard in part.part.shards {
                guard shard.shard >= 0, shard.shard < part.part.totalShards else {
                    throw CacheError.partRefused(path: part.reader.path, reason: "lists shard \(shard.shard) of a build of \(part.part.totalShards)")
                }
                if let other = holder[shard.shard] {
                    throw CacheError.partRefused(path: part.reader.path, reason: "shard \(shard.shard) is also in part \(other)")
                }
                holder[shard.shard] = part.part.name
            }
        }
        if let gap = (0..<reference.part.totalShards).first(where: { holder[$0] == nil }) {
            throw CacheError.partRefused(path: reference.reader.path, reason: "no part holds shard \(gap) of \(reference.part.totalShards)")
        }
        return ordered
    }

    /// What differs between two parts' build settings, in words.
    static func differences(_ mine: Manifest, _ theirs: Manifest) -> [String] {
        var found: [String] = []
        if mine.pipeline != theirs.pipeline { found.append("the pipeline files differ") }
        if mine.encoders.map(\.name) != theirs.encoders.map(\.name) {
            found.append("encoders \(mine.encoders.map(\.name)) vs \(theirs.encoders.map(\.name))")
        } else {
            for (a, b) in zip(mine.encoders, theirs.encoders) {
                if a.weightsSHA256 != b.weightsSHA256 || a.checkpoint != b.checkpoint {
                    found.append("\(a.name) weights \(a.checkpoint) sha256 \(a.weightsSHA256.prefix(12)) vs \(b.checkpoint) sha256 \(b.weightsSHA256.prefix(12))")
                }
                if a.gemm != b.gemm { found.append("\(a.name) computed with gemm \(a.gemm ?? "openblas") vs \(b.gemm ?? "openblas")") }
                if a.config != b.config || a.architecture != b.architecture { found.append("\(a.name) model configuration") }
            }
        }
        if mine.tokenizer != theirs.tokenizer {
            found.append("tokenizer \(mine.tokenizer.map { "vocab sha256 \($0.vocabSHA256.prefix(12)), max length \($0.maxLength)" } ?? "none") vs "
                         + (theirs.tokenizer.map { "vocab sha256 \($0.vocabSHA256.prefix(12)), max length \($0.maxLength)" } ?? "none"))
        }
        if mine.preprocessing != theirs.preprocessing { found.append("preprocessing") }
        if mine.columns != theirs.columns { found.append("columns \(mine.columns.map(\.name)) vs \(theirs.columns.map(\.name))") }
        return found.isEmpty ? ["manifests differ"] : found
    }

    /// The value most of `values` are (the earliest of those tied).
    private static func mostCommon<T: Hashable>(_ values: [T]) -> T? {
        var counts: [T: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        var best: (value: T, count: Int)?
        for value in values {
            let count = counts[value] ?? 0
            if count > (best?.count ?? 0) { best = (value, count) }
        }
        return best?.value
    }
}

/// A part cache opened for a merge: its reader, its part record, and what the merge needs to copy a
/// shard (which captions belong to which image, and its failures).
final class LoadedPart {
    let reader: CacheReader
    let part: Manifest.Part
    /// The manifest the whole build writes: this one without the part record and with no counts.
    let wholeManifest: Manifest
    /// (image id, caption id) of every caption, by image id then caption id.
    private let captionsByImage: [(image: UInt64, caption: UInt64)]
    /// Every failure: its key, modality, id and reason bytes.
    private let failures: [(key: [UInt8], modality: Manifest.Modality, id: UInt64, reason: [UInt8])]

    init(_ url: URL) throws {
        let path = url.standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("data.mdb").path) else {
            throw CacheError.partRefused(path: path, reason: "no cache here (no data.mdb)")
        }
        let reader: CacheReader
        do {
            reader = try CacheReader(path: path)
        } catch CacheError.manifestMissing {
            throw CacheError.partRefused(path: path, reason: "nothing committed yet; run its build again to finish it")
        }
        guard let part = reader.manifest.part else {
            throw CacheError.partRefused(path: reader.path, reason: "a whole cache, not a part (it was built without --part)")
        }
        self.reader = reader
        self.part = part
        var whole = reader.manifest
        whole.part = nil
        whole.counts = Manifest.Counts()
        for index in whole.columns.indices { whole.columns[index].count = 0 }
        wholeManifest = whole

        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        var captions: [(image: UInt64, caption: UInt64)] = []
        try snapshot.transaction.forEach(try snapshot.table(CacheLayout.captionsTable)) { key, value in
            guard let id = SampleKey.id(key), value.count >= 8 else {
                throw CacheError.partRefused(path: reader.path, reason: "table 'captions': malformed entry (key of \(key.count) bytes, value of \(value.count))")
            }
            captions.append((UInt64(littleEndian: value.loadUnaligned(as: UInt64.self)), id))
            return true
        }
        captionsByImage = captions.sorted { ($0.image, $0.caption) < ($1.image, $1.caption) }
        var failures: [(key: [UInt8], modality: Manifest.Modality, id: UInt64, reason: [UInt8])] = []
        try snapshot.transaction.forEach(try snapshot.table(CacheLayout.failuresTable)) { key, value in
            guard let (modality, id) = FailureKey.parse(key) else {
                throw CacheError.partRefused(path: reader.path, reason: "table 'failures': malformed key of \(key.count) bytes")
            }
            failures.append((Array(key), modality, id, Array(value)))
            return true
        }
        self.failures = failures
    }

    /// The shard as the whole build wrote it: its images, captions, values and failures, each value
    /// checked against the part's stored checksum.
    func copy(_ shard: Manifest.Part.Shard) throws -> WritePlan {
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        let range = shard.firstImage...shard.lastImage
        var low = 0, high = captionsByImage.count
        while low < high {
            let middle = (low + high) / 2
            if captionsByImage[middle].image < shard.firstImage { low = middle + 1 } else { high = middle }
        }
        var captionIDs: [UInt64] = []
        while low < captionsByImage.count, range.contains(captionsByImage[low].image) {
            captionIDs.append(captionsByImage[low].caption)
            low += 1
        }
        captionIDs.sort()

        let images = try entries(CacheLayout.imagesTable, in: range, snapshot)
        let captions = try entries(CacheLayout.captionsTable, ids: captionIDs, snapshot)
        guard images.count == shard.images, captions.count == shard.captions else {
            throw CacheError.partRefused(path: reader.path, reason: "shard \(shard.shard) should hold \(shard.images) images and \(shard.captions) captions, the part has \(images.count) and \(captions.count) for it")
        }
        var columns: [String: [WritePlan.Entry]] = [:]
        for column in reader.manifest.columns {
            columns[column.name] = column.modality == .image ? try entries(column.name, in: range, snapshot)
                                                             : try entries(column.name, ids: captionIDs, snapshot)
        }
        let captionSet = Set(captionIDs)
        let shardFailures = failures.filter { $0.modality == .image ? range.contains($0.id) : captionSet.contains($0.id) }
        return WritePlan(images: images, captions: captions, columns: columns,
                         failures: shardFailures.map { (key: $0.key, reason: $0.reason) })
    }

    /// The entries of `table` with ids in `range`.
    private func entries(_ table: String, in range: ClosedRange<UInt64>, _ snapshot: CacheSnapshot) throws -> [WritePlan.Entry] {
        let values = try snapshot.table(table)
        var found: [WritePlan.Entry] = []
        var start = SampleKey.bytes(range.lowerBound)
        try withUnsafeBytes(of: &start) { key in
            try snapshot.transaction.forEach(values, from: key) { key, value in
                guard let id = SampleKey.id(key), range.contains(id) else { return false }
                found.append(try checked(table, id: id, value, snapshot))
                return true
            }
        }
        return found
    }

    /// The entries of `table` for those of `ids` it holds (a caption whose encoding failed has none).
    private func entries(_ table: String, ids: [UInt64], _ snapshot: CacheSnapshot) throws -> [WritePlan.Entry] {
        let values = try snapshot.table(table)
        return try ids.compactMap { id in
            try snapshot.transaction.get(values, id: id).map { try checked(table, id: id, $0, snapshot) }
        }
    }

    /// A copy of a stored value, refused when it does not match its stored CRC-32.
    private func checked(_ table: String, id: UInt64, _ value: UnsafeRawBufferPointer, _ snapshot: CacheSnapshot) throws -> WritePlan.Entry {
        let entry = WritePlan.Entry(id: id, record: Array(value))
        let stored = try snapshot.transaction.get(try snapshot.table(table + CacheLayout.checksumSuffix), id: id)
        guard let stored, stored.count == 4, UInt32(littleEndian: stored.loadUnaligned(as: UInt32.self)) == entry.checksum else {
            throw CacheError.partRefused(path: reader.path, reason: "table '\(table)', id \(id): the value does not match its stored checksum (the part is damaged; build it again)")
        }
        return entry
    }
}
