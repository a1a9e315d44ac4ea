import Foundation
import Testing
import StrataTensor
@testable import StrataCache
import StrataTestSupport

@Suite struct RoundTripTests {
    /// A writer killed after creating its tables but before writing the manifest leaves a cache that,
    /// resumed, ends byte for byte like one written at once.
    @Test func writerStoppedBeforeItsManifestResumesToTheSameBytes() throws {
        let straight = try TemporaryCache()
        try writeSynthetic(straight, batches: 3, size: 5)
        let resumed = try TemporaryCache()
        var names = [CacheLayout.metaTable, CacheLayout.failuresTable]
        for table in CacheLayout.checksummedIndexTables + SyntheticCache.manifest.columns.map(\.name) {
            names += [table, table + CacheLayout.checksumSuffix]
        }
        do {
            // What the writer commits first; the process then dies (the environment is dropped).
            let environment = try LMDBEnvironment.open(path: resumed.path, create: true, mapSize: 1 << 20)
            _ = try environment.createDatabases(names)
        }
        try writeSynthetic(resumed, batches: 3, size: 5)
        #expect(try Data(contentsOf: resumed.url.appendingPathComponent("data.mdb"))
                == Data(contentsOf: straight.url.appendingPathComponent("data.mdb")))
    }

    @Test func everyDtypeAndShapeReadsBackAsWritten() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 4, size: 6)
        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.batches == 4)
        #expect(reader.manifest.counts.images == 24)
        #expect(reader.manifest.counts.captions == 24)
        for column in SyntheticCache.manifest.columns {
            let expectedIDs = (0..<4).flatMap { SyntheticCache.imageIDs(batch: $0, size: 6) }
                .map { column.modality == .image ? $0 : $0 + SyntheticCache.captionOffset }
            let unused = column.name == "image/synthetic/unused"
            #expect(try reader.ids(column: column.name) == (unused ? [] : expectedIDs), "\(column.name)")
            #expect(reader.manifest.column(named: column.name)?.count == (unused ? 0 : 24))
            for id in expectedIDs {
                let stored = try reader.value(column: column.name, id: id)
                if unused {
                    #expect(stored == nil)
                    continue
                }
                let value = try #require(stored, "\(column.name) \(id)")
                let source = SyntheticCache.value(column: column, id: id)
                let expected = source.converted(to: column.dtype)
                #expect(value.dtype == column.dtype)
                #expect(value.shape == expected.shape, "\(column.name) \(id)")
                #expect(value.withUnsafeBytes { Array($0) } == expected.withUnsafeBytes { Array($0) }, "\(column.name) \(id)")
            }
        }
    }

    @Test func storedBytesAreLittleEndianInTheColumnDtype() throws {
        let cache = try TemporaryCache()
        let manifest = Manifest(pipeline: "p", columns: [
            Manifest.Column(name: "a/f16", modality: .image, dtype: .f16, shape: [3]),
            Manifest.Column(name: "a/bf16", modality: .image, dtype: .bf16, shape: [3]),
        ])
        let writer = try CacheWriter(path: cache.path, manifest: manifest)
        var batch = CacheBatch()
        let floats: [Float] = [1.0, -2.5, 65504]
        batch.add(column: "a/f16", id: 7, value: try Tensor(shape: [3], floats: floats))
        batch.add(column: "a/bf16", id: 7, value: try Tensor(shape: [3], floats: [1.0, -2.5, 3.0e38]))
        try writer.write(batch)
        writer.close()
        let reader = try CacheReader(path: cache.path)
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        let f16 = try #require(try snapshot.rawValue(column: "a/f16", id: 7))
        // IEEE half: 1.0 = 0x3C00, -2.5 = 0xC100, 65504 = 0x7BFF.
        #expect(Array(f16) == [0x00, 0x3C, 0x00, 0xC1, 0xFF, 0x7B])
        let bf16 = try #require(try snapshot.rawValue(column: "a/bf16", id: 7))
        // bfloat16: 1.0 = 0x3F80, -2.5 = 0xC020, 3e38 rounds to 0x7F62.
        #expect(Array(bf16) == [0x80, 0x3F, 0x20, 0xC0, 0x62, 0x7F])
    }

    @Test func indexRecordsAndFailuresRoundTrip() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 3, size: 4)
        let reader = try CacheReader(path: cache.path)
        let image = try #require(try reader.image(id: 7))
        #expect(image == ImageRecord(fileName: "images/7.jpg", width: 8, height: 8, split: .val))
        let caption = try #require(try reader.caption(id: 5 + SyntheticCache.captionOffset))
        #expect(caption.imageID == 5)
        #expect(caption.text == "caption of image 5 ✓")
        #expect(caption.tokenIDs == (0..<SyntheticCache.length(caption: 5 + SyntheticCache.captionOffset)).map { Int32($0) + 101 })
        #expect(try reader.image(id: 999) == nil)
        #expect(try reader.failures() == [CacheFailure(modality: .image, id: 10_000_002, reason: "synthetic decode failure in batch 2")])
        #expect(reader.manifest.counts.failures == 1)
    }

    @Test func malformedRecordsAreRejected() throws {
        let good = try ImageRecord(fileName: "a.jpg", width: 3, height: 4, split: .val).encoded(id: 1)
        #expect(throws: CacheError.self) { try good.dropLast().withUnsafeBytes { try ImageRecord.decode($0, id: 1) } }
        let caption = try CaptionRecord(imageID: 1, text: "hi", tokenIDs: [101, 102]).encoded(id: 2)
        #expect(try caption.withUnsafeBytes { try CaptionRecord.decode($0, id: 2) }.tokenIDs == [101, 102])
        #expect(throws: CacheError.self) { try (caption + [0]).withUnsafeBytes { try CaptionRecord.decode($0, id: 2) } }
    }

    @Test func idsOutOfOrderAndRewrittenAreStored() throws {
        let cache = try TemporaryCache()
        let manifest = Manifest(pipeline: "p", columns: [Manifest.Column(name: "a/v", modality: .image, dtype: .i32, shape: [1])])
        let writer = try CacheWriter(path: cache.path, manifest: manifest)
        for ids in [[10, 11], [3, 12, 5], [11, 2]] as [[UInt64]] {
            var batch = CacheBatch()
            for id in ids { batch.add(column: "a/v", id: id, value: try Tensor(shape: [1], int32s: [Int32(id) * 100 + Int32(ids.count)])) }
            try writer.write(batch)
        }
        writer.close()
        let reader = try CacheReader(path: cache.path)
        #expect(try reader.ids(column: "a/v") == [2, 3, 5, 10, 11, 12])
        #expect(try reader.value(column: "a/v", id: 11)?.int32s == [1102])
        #expect(try reader.value(column: "a/v", id: 12)?.int32s == [1203])
        #expect(reader.manifest.column(named: "a/v")?.count == 6)
        #expect(try CacheVerifier.verify(reader).isEmpty)
    }

    @Test func valuesOfTheWrongShapeAreRefused() throws {
        let cache = try TemporaryCache()
        let writer = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        var batch = CacheBatch()
        batch.add(column: "image/synthetic/f16", id: 1, value: Tensor(zeros: [5]))
        #expect(throws: CacheError.self) { try writer.write(batch) }
        var unknown = CacheBatch()
        unknown.add(column: "image/nothing", id: 1, value: Tensor(zeros: [4]))
        #expect(throws: CacheError.self) { try writer.write(unknown) }
        #expect(writer.committedBatches == 0)
    }

    @Test func onlyOneWriterAndResumeKeepsTheManifest() throws {
        let cache = try TemporaryCache()
        let first = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        try first.write(SyntheticCache.batch(index: 0, size: 3))
        #expect(throws: CacheError.writerBusy(path: first.path)) {
            _ = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        }
        first.close()
        let second = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        #expect(second.committedBatches == 1)
        try second.write(SyntheticCache.batch(index: 1, size: 3))
        second.close()
        var other = SyntheticCache.manifest
        other.pipeline = "another pipeline"
        #expect(throws: CacheError.self) { _ = try CacheWriter(path: cache.path, manifest: other) }
        // A refusal names each property that differs, with slashes as written.
        var moved = SyntheticCache.manifest
        moved.encoders[0].checkpoint = "/weights/other.safetensors"
        moved.columns[0].dtype = moved.columns[0].dtype == .f32 ? .f16 : .f32
        do {
            _ = try CacheWriter(path: cache.path, manifest: moved)
            Issue.record("a cache was resumed with another checkpoint")
        } catch let error as CacheError {
            let text = error.description
            #expect(text.contains("encoders[0].checkpoint: \"\(SyntheticCache.manifest.encoders[0].checkpoint)\" → \"/weights/other.safetensors\""), "\(text)")
            #expect(text.contains("columns[0].dtype:"), "\(text)")
            #expect(!text.contains("\\/") && !text.contains("pipeline:"), "\(text)")
        }
        #expect(try CacheReader(path: cache.path).manifest.counts.images == 6)
    }

    @Test func resumingWithAnotherGemmIsRefusedByName() throws {
        let cache = try TemporaryCache()
        // Written before the gemm was recorded: such caches were computed with OpenBLAS.
        let first = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest)
        try first.write(SyntheticCache.batch(index: 0, size: 3))
        first.close()
        func manifest(gemm: String) -> Manifest {
            var manifest = SyntheticCache.manifest
            for index in manifest.encoders.indices { manifest.encoders[index].gemm = gemm }
            return manifest
        }
        do {
            _ = try CacheWriter(path: cache.path, manifest: manifest(gemm: "strata-avx512"))
            Issue.record("a cache computed with OpenBLAS was resumed with Strata's kernels")
        } catch let error as CacheError {
            #expect(error.description.contains("computed with gemm openblas and this run uses strata-avx512"))
        }
        let resumed = try CacheWriter(path: cache.path, manifest: manifest(gemm: "openblas"))
        #expect(resumed.committedBatches == 1)
        resumed.close()
    }

    @Test func lmdbAndLayoutErrorsAreTyped() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("strata-no-such-\(UUID().uuidString)").path
        #expect(throws: CacheError.io(path: missing, reason: "no such cache directory")) { _ = try CacheReader(path: missing) }

        let empty = try TemporaryCache()
        #expect(throws: CacheError.io(path: empty.url.standardizedFileURL.path, reason: "no data.mdb: not a cache directory")) {
            _ = try CacheReader(path: empty.path)
        }
        #expect(!FileManager.default.fileExists(atPath: empty.url.appendingPathComponent("data.mdb").path))
        _ = try LMDBEnvironment.open(path: empty.path, create: true).createDatabases(["other"])
        #expect(throws: CacheError.manifestMissing(path: empty.url.standardizedFileURL.path)) { _ = try CacheReader(path: empty.path) }

        let garbage = try TemporaryCache()
        try Data(repeating: 0xAB, count: 8192).write(to: garbage.url.appendingPathComponent("data.mdb"))
        do {
            _ = try CacheReader(path: garbage.path)
            Issue.record("a garbage data.mdb opened")
        } catch let CacheError.damaged(path, reason) {
            // Refused before LMDB maps it.
            #expect(path.hasSuffix("data.mdb"))
            #expect(reason.contains("page 0 is not an LMDB meta page"))
        }
        #expect(LMDBStatus(code: -30792) == .mapFull)
        #expect(LMDBStatus(code: 2) == .system(2))
        #expect(LMDBStatus.mapFull.description.contains("MDB_MAP_FULL"))
    }

    @Test func readTransactionsStayOnTheThreadThatMadeThem() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        let reader = try CacheReader(path: cache.path)
        // Many threads reading at once, each with its own snapshot, see the same values.
        let expected = try reader.value(column: "image/synthetic/f32", id: 3)?.floats
        let results = PartResults<[Float]>(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { part in
            if let snapshot = try? reader.snapshot(), let value = try? snapshot.value(column: "image/synthetic/f32", id: 3) {
                results.set(part, value.floats)
                snapshot.end()
            }
        }
        #expect(results.values.allSatisfy { $0 == expected })
    }
}
