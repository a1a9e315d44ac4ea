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
        let result = try DamageTests.pythonOpens(copy.path)
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
            // So does the Python reader, exiting normally (LMDB would loop on the page or crash).
            let python = try DamageTests.pythonOpens(copy.path)
            #expect(python.status == 1 && !python.signalled, "python reader ended with \(python.status): \(python.errors)")
            #expect(python.errors.contains("page \(page), a page already used elsewhere (page \(page)): damaged cache"), "\(python.errors)")
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
            // The Python reader walks the trees with the same checks: it refuses what the Swift walk
            // refuses, with the same first reason, and never dies of a signal or hangs.
            let first = try LMDBPageWalk.check(directory: copy.path, limit: 1).first
            let python = try DamageTests.pythonOpens(copy.path)
            #expect(!python.signalled && (python.status == 0 || python.status == 1), "python reader ended with \(python.status): \(python.errors)")
            if let first {
                #expect(python.status == 1 && python.errors.contains("\(first)"), "expected '\(first)': \(python.errors)")
            } else {
                #expect(!python.errors.contains("damaged cache"), "\(python.errors)")
            }
        }
        #expect(reported >= 5, "only \(reported) of 40 damaged copies were reported")
    }
}

/// A kind of damage to one B-tree page of a cache's `data.mdb` (4096-byte pages) that would crash or
/// hang LMDB, and what the walks say about it.
enum TreeDamage: String, CaseIterable, CustomTestStringConvertible {
    case selfPointingBranch, childOutsideTheFile, leafFlaggedAsBranch, crossedFreeSpaceBounds, nodeOutsideItsPage,
         keysOutOfOrder, longerOverflowRun

    var testDescription: String { rawValue }

    /// Words of the walks' reason.
    var reason: String {
        switch self {
        case .selfPointingBranch: "a page already used elsewhere"
        case .childOutsideTheFile: "page at page 4294967040, outside pages 2..."
        case .leafFlaggedAsBranch: "has flags 0x0001, expected a leaf page"
        case .crossedFreeSpaceBounds: "has free-space bounds"
        case .nodeOutsideItsPage: "at byte 4095, outside"
        case .keysOutOfOrder: "key 1 does not sort after the key before it"
        case .longerOverflowRun: "overflow page"
        }
    }

    /// Damages page `page` of `data` when the page is of the kind this damage fits; false when not.
    func apply(to data: inout Data, page: Int) -> Bool {
        let base = page * 4096
        guard data.loadLE(UInt64.self, at: base) == UInt64(page) else { return false }
        let flags = data.loadLE(UInt16.self, at: base + 10), lower = Int(data.loadLE(UInt16.self, at: base + 12))
        let upper = Int(data.loadLE(UInt16.self, at: base + 14))
        let node1 = base + Int(data.loadLE(UInt16.self, at: base + 18))
        switch self {
        case .selfPointingBranch, .childOutsideTheFile:
            // Node 1's child page number (32 low bits, then the node's flags field as the top 16).
            guard flags == 0x01, lower >= 20 else { return false }
            data.storeLE(self == .selfPointingBranch ? UInt32(page) : 0xFFFF_FF00, at: node1)
            data.storeLE(UInt16(0), at: node1 + 4)
        case .leafFlaggedAsBranch:
            guard flags == 0x02 else { return false }
            data.storeLE(UInt16(0x01), at: base + 10)
        case .crossedFreeSpaceBounds:
            guard flags == 0x02 else { return false }
            data.storeLE(UInt16(upper + 2), at: base + 12)
        case .nodeOutsideItsPage:
            guard flags == 0x02 else { return false }
            data.storeLE(UInt16(4095), at: base + 16)
        case .keysOutOfOrder:
            // Node 1's 8-byte key (a sample id) becomes 0, below node 0's.
            guard flags == 0x02, lower >= 20, data.loadLE(UInt16.self, at: node1 + 6) == 8 else { return false }
            data.storeLE(UInt64(0), at: node1 + 8)
        case .longerOverflowRun:
            guard flags == 0x04 else { return false }
            data.storeLE(data.loadLE(UInt32.self, at: base + 12) + 1, at: base + 12)
        }
        return true
    }
}

extension Data {
    fileprivate func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        subdata(in: offset..<offset + MemoryLayout<T>.size).withUnsafeBytes { $0.loadLE(T.self, at: 0) }
    }

    fileprivate mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
    }
}

extension DamageTests {
    /// Runs `strata_cache.Cache(path)` in the system python3, which SIGALRM ends after 60 seconds, so
    /// that a hang shows as a signal like a crash.
    static func pythonOpens(_ path: String, checkStructure: Bool = true) throws -> (status: Int32, signalled: Bool, output: String, errors: String) {
        let package = SharedData.repositoryRoot.appendingPathComponent("python").path
        let script = """
            import signal, sys; signal.alarm(60); sys.path.insert(0, sys.argv[1]); import strata_cache
            cache = strata_cache.Cache(sys.argv[2], check_structure=sys.argv[3] == "1")
            print(len(cache.ids("image/synthetic/f32")))
            """
        return try Programs.runCapturingErrors(try Programs.python(), ["-c", script, package, path, checkStructure ? "1" : "0"])
    }

    /// Each kind of tree damage, made to the pages it fits in turn until one of the trees' pages is hit:
    /// the Swift walk and the Python reader's walk refuse it with the same reason, naming the page, and
    /// Python exits normally; the undamaged cache opens in Python with every id Swift reads.
    @Test(arguments: TreeDamage.allCases)
    func theSwiftAndPythonWalksRefuseTreeDamage(_ damage: TreeDamage) throws {
        let (good, copy) = try DamageTests.goodCacheAndCopy()
        if damage == .longerOverflowRun {
            // A value larger than half a page goes to overflow pages (4 of them).
            let environment = try LMDBEnvironment.open(path: good.path)
            let meta = try #require(try environment.database(CacheLayout.metaTable))
            let large = [UInt8](repeating: 7, count: 3 * 4096)
            try environment.write { transaction in
                try large.withUnsafeBytes { try transaction.put(meta, key: "large", value: $0) }
            }
            try FileManager.default.removeItem(at: copy.url.appendingPathComponent("data.mdb"))
            try FileManager.default.copyItem(at: good.url.appendingPathComponent("data.mdb"), to: copy.url.appendingPathComponent("data.mdb"))
        }
        #expect(try LMDBPageWalk.check(directory: good.path).isEmpty)
        let ids = try CacheReader(path: good.path).ids(column: "image/synthetic/f32").count
        let opened = try DamageTests.pythonOpens(good.path)
        #expect(opened.status == 0 && opened.output == "\(ids)\n", "\(opened.output) \(opened.errors)")

        let file = copy.url.appendingPathComponent("data.mdb")
        let original = try Data(contentsOf: file)
        var hit = false
        for page in 2..<original.count / 4096 {
            var data = original
            guard damage.apply(to: &data, page: page) else { continue }
            try data.write(to: file)
            guard let first = try LMDBPageWalk.check(directory: copy.path, limit: 1).first else { continue }
            hit = true
            #expect(first.message.contains(damage.reason), "\(first)")
            let python = try DamageTests.pythonOpens(copy.path)
            #expect(python.status == 1 && !python.signalled, "python reader ended with \(python.status): \(python.errors)")
            #expect(python.errors.contains("\(file.path): \(first) (page "), "expected '\(first)': \(python.errors)")
            #expect(python.errors.contains("damaged cache"), "\(python.errors)")
            break
        }
        #expect(hit, "no page in use fits \(damage)")
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
