import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataCache

/// Damaged copies of a good cache (truncated, tree pages overwritten) are refused by name or reported
/// by `verify`, never a crash of a tool, and a damaged cache is not resumed.
@Suite struct DamageTests {
    /// A cache with branch pages in its tables, and a copy of it to damage.
    static func goodCacheAndCopy(batches: Int = 60) throws -> (good: TemporaryCache, copy: TemporaryCache) {
        let good = try TemporaryCache()
        try writeSynthetic(good, batches: batches, size: 16)
        let copy = try TemporaryCache()
        for name in ["data.mdb", "lock.mdb"] {
            try FileManager.default.copyItem(at: good.url.appendingPathComponent(name), to: copy.url.appendingPathComponent(name))
        }
        return (good, copy)
    }

    @Test func aTruncatedCacheIsRefusedByNameByEveryReader() throws {
        let (_, copy) = try DamageTests.goodCacheAndCopy(batches: 8)
        let file = copy.url.appendingPathComponent("data.mdb")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int)
        #expect(truncate(file.path, off_t(size - 8192)) == 0)

        #expect {
            _ = try CacheReader(path: copy.path)
        } throws: { error in
            guard case let CacheError.damaged(path, reason) = error else { return false }
            return path.hasSuffix("data.mdb") && reason.contains("truncated by 8192 bytes")
        }
        // Resuming is refused with what to do.
        #expect {
            _ = try CacheWriter(path: copy.path, manifest: SyntheticCache.manifest)
        } throws: { error in
            "\(error)".contains("damaged cache") && "\(error)".contains("delete it and build again")
        }
        let strata = try Programs.strata()
        for command in [["verify", copy.path], ["inspect", copy.path],
                        ["export", copy.path, "--column", "image/synthetic/f16", "--to", copy.path + "/x.npy"]] {
            let result = try Programs.runCapturingErrors(strata, command)
            #expect(result.status == 1 && !result.signalled, "\(command[0]) ended with \(result.status)")
            #expect((result.output + result.errors).contains("truncated by 8192 bytes"), "\(command[0]): \(result.output) \(result.errors)")
        }
        let python = try Programs.python()
        let package = SharedData.repositoryRoot.appendingPathComponent("python").path
        let script = "import sys; sys.path.insert(0, sys.argv[1]); import strata_cache; strata_cache.Cache(sys.argv[2])"
        let result = try Programs.runCapturingErrors(python, ["-c", script, package, copy.path])
        #expect(result.status == 1 && !result.signalled, "python reader ended with \(result.status)")
        #expect(result.errors.contains("truncated by 8192 bytes"), "\(result.errors)")
    }

    @Test func aBranchPagePointingAtItselfIsReportedAndNotResumed() throws {
        let (good, copy) = try DamageTests.goodCacheAndCopy()
        #expect(try CacheVerifier.verifyStructure(path: good.path).isEmpty)
        let file = copy.url.appendingPathComponent("data.mdb")
        let original = try Data(contentsOf: file)
        let pageSize = 4096
        // Every page whose header says "branch page N" at page N (some are free copies from earlier
        // transactions); damage each in turn until one is in use.
        var damagedLive = false
        for page in 2..<original.count / pageSize {
            let base = page * pageSize
            let number = original.subdata(in: base..<base + 8).withUnsafeBytes { $0.loadLE(UInt64.self, at: 0) }
            let flags = original.subdata(in: base + 10..<base + 12).withUnsafeBytes { $0.loadLE(UInt16.self, at: 0) }
            let lower = original.subdata(in: base + 12..<base + 14).withUnsafeBytes { $0.loadLE(UInt16.self, at: 0) }
            guard number == UInt64(page), flags == 0x01, lower >= 20 else { continue }
            // Node 1's child page number becomes the page itself (LMDB: assertion IS_LEAF or a full cursor stack).
            var data = original
            let node = base + Int(data.subdata(in: base + 18..<base + 20).withUnsafeBytes { $0.loadLE(UInt16.self, at: 0) })
            data[node] = UInt8(page & 0xff)
            data[node + 1] = UInt8(page >> 8 & 0xff)
            data[node + 2] = UInt8(page >> 16 & 0xff)
            data[node + 3] = UInt8(page >> 24 & 0xff)
            data[node + 4] = 0
            data[node + 5] = 0
            try data.write(to: file)
            let problems = try LMDBPageWalk.check(directory: copy.path)
            if problems.isEmpty { continue }
            damagedLive = true
            #expect(problems.contains { $0.message.contains("page \(page), a page already used elsewhere") }, "\(problems)")
            let result = try Programs.runCapturingErrors(try Programs.strata(), ["verify", copy.path])
            #expect(result.status == 1 && !result.signalled, "verify ended with \(result.status): \(result.errors)")
            #expect(result.output.contains("damaged: ") && result.output.contains("its values were not read"), "\(result.output)")
            // Every other reader refuses it by name before LMDB reads the broken tree.
            #expect {
                _ = try CacheReader(path: copy.path)
            } throws: { error in
                guard case let CacheError.damaged(_, reason) = error else { return false }
                return reason.contains("page \(page), a page already used elsewhere")
            }
            for command in [["inspect", copy.path], ["export", copy.path, "--column", "image/synthetic/f16", "--to", copy.path + "/x.npy"],
                            ["eval", "--cache", copy.path, "--checkpoint", copy.path + "/none.safetensors"]] {
                let run = try Programs.runCapturingErrors(try Programs.strata(), command)
                #expect(run.status != 0 && !run.signalled, "\(command[0]) ended with \(run.status)")
                #expect(run.errors.contains("damaged cache"), "\(command[0]): \(run.output) \(run.errors)")
            }
            #expect {
                _ = try CacheWriter(path: copy.path, manifest: SyntheticCache.manifest)
            } throws: { error in
                "\(error)".contains("it cannot be resumed")
            }
            break
        }
        #expect(damagedLive, "no branch page in use was found")
    }

    @Test func flippedBytesInTreePagesNeverCrashVerify() throws {
        let (_, copy) = try DamageTests.goodCacheAndCopy()
        let file = copy.url.appendingPathComponent("data.mdb")
        let original = try Data(contentsOf: file)
        var generator = SplitMix64(seed: 22)
        var reported = 0
        for _ in 0..<40 {
            var data = original
            for _ in 0..<3 {
                let page = 2 + Int(generator.next() % UInt64(original.count / 4096 - 2))
                let offset = page * 4096 + Int(generator.next() % 64)
                data[offset] ^= UInt8(1 << (generator.next() % 8))
            }
            try data.write(to: file)
            let problems = try CacheVerifier.verifyStructure(path: copy.path)
            if !problems.isEmpty { reported += 1 }
        }
        #expect(reported >= 5, "only \(reported) of 40 damaged copies were reported")
    }
}

extension DamageTests {
    @Test func aFullDiskIsReportedWithThePathAndTheSpaceNeededAndKeepsWhatWasCommitted() throws {
        let cache = try TemporaryCache()
        let writer = try CacheWriter(path: cache.path, manifest: SyntheticCache.manifest, mapSize: 1 << 20)
        try writer.write(SyntheticCache.batch(index: 0, size: 4))
        writer.freeSpace = { _ in 4096 }
        #expect {
            try writer.write(SyntheticCache.batch(index: 1, size: 4))
        } throws: { error in
            guard case let CacheError.diskFull(path, needed, available) = error else { return false }
            return path == writer.path && needed > 4096 && available == 4096 && "\(error)".contains("the disk is full")
        }
        writer.close()
        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.batches == 1)
        #expect(try CacheVerifier.verify(reader).isEmpty)
        // LMDB's errno of a failed write is what a full disk gives.
        #expect(DiskSpace.meansFull(ENOSPC) && DiskSpace.meansFull(EIO) && !DiskSpace.meansFull(EACCES))
    }

    @Test func anEditedManifestIsRefused() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        let manifest = try CacheReader(path: cache.path).manifest
        #expect(manifest.encoders.first?.weightsSHA256.isEmpty == false)
        let environment = try LMDBEnvironment.open(path: cache.path)
        let meta = try #require(try environment.database(CacheLayout.metaTable))
        var edited = manifest
        edited.encoders[0].weightsSHA256 = String(repeating: "f", count: 64)
        let json = try edited.encoded()
        try environment.write { transaction in
            try json.withUnsafeBytes { try transaction.put(meta, key: CacheLayout.manifestKey, value: $0) }
        }
        #expect {
            _ = try CacheReader(path: cache.path)
        } throws: { error in
            "\(error)".contains("the manifest does not match its stored CRC-32")
        }
    }

    @Test(arguments: [DType.f16, .f32, .bf16])
    func verifyReportsNonFiniteValues(_ dtype: DType) throws {
        let cache = try TemporaryCache()
        var manifest = SyntheticCache.manifest
        let index = try #require(manifest.columns.firstIndex { $0.name == "image/synthetic/unused" })
        manifest.columns[index].dtype = dtype
        let writer = try CacheWriter(path: cache.path, manifest: manifest, mapSize: 1 << 20)
        var batch = try SyntheticCache.batch(index: 0, size: 4)
        let id = SyntheticCache.imageIDs(batch: 0, size: 4)[1]
        batch.add(column: "image/synthetic/unused", id: id,
                  value: try Tensor(shape: [7], floats: [0, 1, 2, 3, .nan, 5, 6]).converted(to: dtype))
        try writer.write(batch)
        writer.close()
        let problems = try CacheVerifier.verify(CacheReader(path: cache.path))
        #expect(problems.map(\.description) == ["image/synthetic/unused [\(id)]: non-finite value (NaN or infinity) at element 4"])
    }
}
