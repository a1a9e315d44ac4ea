import Foundation
import Testing
import StrataTestSupport
@testable import StrataCache

/// The command line and the Python package in `python/` against caches written here.
@Suite struct ExternalReaderTests {
    @Test func pythonReaderSeesWhatStrataExports() throws {
        let strata = try Programs.strata()
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 3, size: 5)
        let exports = try TemporaryCache()
        var names: [String] = []
        for (index, column) in SyntheticCache.manifest.columns.enumerated() {
            let file = exports.url.appendingPathComponent("column\(index).npy").path
            try Programs.run(strata, ["export", cache.path, "--column", column.name, "--to", file])
            names.append(column.name)
        }
        let script = """
        import json, sys
        import numpy as np
        sys.path.insert(0, sys.argv[1])
        import strata_cache
        cache = strata_cache.Cache(sys.argv[2])
        names = json.loads(sys.argv[4])
        for index, name in enumerate(names):
            ids, values, lengths = cache.column_arrays(name)
            stem = f"{sys.argv[3]}/column{index}"
            exported = np.load(stem + ".npy")
            assert np.array_equal(ids, np.load(stem + ".ids.npy")), name
            assert values.shape == exported.shape, (name, values.shape, exported.shape)
            assert values.tobytes() == exported.astype(values.dtype).tobytes(), name
            if lengths is not None:
                assert np.array_equal(lengths, np.load(stem + ".lengths.npy")), name
            if len(ids):
                one = cache.get(name, int(ids[-1]))
                rows = one.shape[0] if lengths is not None else 1
                assert np.array_equal(one.reshape(-1), values[len(values) - rows:].reshape(-1)) or values.size == 0, name
        assert cache.verify() == [], cache.verify()
        assert cache.image(7) == {"width": 8, "height": 8, "split": "val", "file_name": "images/7.jpg"}, cache.image(7)
        caption = cache.caption(1000007)
        assert caption["image_id"] == 7 and caption["text"] == "caption of image 7 ✓", caption
        assert cache.failures() == [("image", 10000002, "synthetic decode failure in batch 2")], cache.failures()
        print("python reader agrees on", len(names), "columns")
        """
        let python = try Programs.python()
        let package = SharedData.repositoryRoot.appendingPathComponent("python").path
        let namesJSON = String(decoding: try JSONSerialization.data(withJSONObject: names), as: UTF8.self)
        let result = try Programs.run(python, ["-c", script, package, cache.path, exports.path, namesJSON])
        #expect(result.output.contains("python reader agrees on \(names.count) columns"))

        let listing = try Programs.run(python, ["-c", "import sys; sys.path.insert(0, sys.argv[1]); from strata_cache.cache import main; sys.exit(main(sys.argv[1:]))",
                                                package, cache.path]).output
        for column in SyntheticCache.manifest.columns {
            let count = column.name == "image/synthetic/unused" ? 0 : 15
            #expect(listing.contains("\(column.name)\t\(column.modality.rawValue)\t\(column.dtype)\t"), "\(listing)")
            #expect(listing.split(separator: "\n").contains { $0.hasPrefix(column.name + "\t") && $0.hasSuffix("\t\(count)") }, "\(listing)")
        }
    }

    @Test func pythonPairDatasetReadsSplitsAndWorksInForkedWorkers() throws {
        let (cache, other) = (try TemporaryCache(), try TemporaryCache())
        try writeSynthetic(cache, batches: 3, size: 5)
        try writeSynthetic(other, batches: 2, size: 5)
        let script = SharedData.repositoryRoot.appendingPathComponent("python/tests/check_package.py").path
        let result = try Programs.run(try Programs.python(), [script, cache.path, other.path])
        #expect(result.output.contains("package checks passed: 3 train pairs, 3 val pairs, 2 pairs of the second cache"), "\(result.output)")
    }

    @Test func verifyFindsAFlippedByteAndTheCommandFails() throws {
        let strata = try Programs.strata()
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        #expect(try Programs.run(strata, ["verify", cache.path]).output.hasPrefix("ok:"))

        // Damage the stored value of image 3 in the f32 column, found by its bytes in data.mdb (every
        // copy: pages of earlier transactions may still hold it).
        let column = try #require(SyntheticCache.manifest.column(named: "image/synthetic/f32"))
        let needle = SyntheticCache.value(column: column, id: 3).withUnsafeBytes { Data($0) }
        let file = cache.url.appendingPathComponent("data.mdb")
        var data = try Data(contentsOf: file)
        var copies = 0
        var searchStart = data.startIndex
        while let range = data.range(of: needle, in: searchStart..<data.endIndex) {
            data[range.lowerBound + 5] ^= 0x10
            copies += 1
            searchStart = range.upperBound
        }
        #expect(copies >= 1)
        try data.write(to: file)

        let reader = try CacheReader(path: cache.path)
        let problems = try CacheVerifier.verify(reader)
        #expect(problems.count == 1)
        #expect(problems.first?.table == "image/synthetic/f32")
        #expect(problems.first?.id == 3)
        #expect(problems.first?.message.contains("checksum mismatch") == true)
        let result = try Programs.run(strata, ["verify", cache.path], expectSuccess: false)
        #expect(result.status == 1)
        #expect(result.output.contains("damaged: image/synthetic/f32 [3]: checksum mismatch"))
    }

    @Test func handlesRefuseToWorkAfterFork() throws {
        let strataDev = try Programs.strataDev()
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 1, size: 4)
        let result = try Programs.run(strataDev, ["cache-fork-probe", cache.path, "--column", "image/synthetic/f16", "--id", "2"], expectSuccess: false)
        #expect(result.output.contains("child refused the parent's handle and opened its own"), "\(result.output)")
        #expect(result.status == 0)
    }

    @Test func verifyComparesTheManifestWithTheTables() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        // A stray value without checksum and a table the manifest does not know.
        let environment = try LMDBEnvironment.open(path: cache.path)
        let tables = try environment.createDatabases(["image/synthetic/i32", "stray"])
        try environment.write { transaction in
            for name in ["image/synthetic/i32", "stray"] {
                guard let table = tables[name] else { return }
                try [UInt8](repeating: 1, count: 8).withUnsafeBytes { try transaction.put(table, id: 99, value: $0) }
            }
        }
        let problems = try CacheVerifier.verify(CacheReader(path: cache.path)).map(\.description)
        #expect(problems.contains("image/synthetic/i32: holds 9 entries, the manifest says 8"))
        #expect(problems.contains("image/synthetic/i32: 9 values but 8 checksums"))
        #expect(problems.contains("image/synthetic/i32 [99]: no checksum"))
        #expect(problems.contains("stray: table is not described by the manifest"))
    }

    @Test func exportsSafetensorsWithAParsableHeader() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 1, size: 3)
        let reader = try CacheReader(path: cache.path)
        let arrays = try ColumnArrays(reader: reader, column: "text/synthetic/tokens")
        let out = try TemporaryCache()
        let url = out.url.appendingPathComponent("tokens.safetensors")
        try ColumnExport.write(arrays, column: "text/synthetic/tokens", to: url)
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as? [String: Any])
        let values = try #require(header["values"] as? [String: Any])
        #expect(values["dtype"] as? String == "F16")
        #expect(values["shape"] as? [Int] == [arrays.lengths?.reduce(0, +) ?? -1, 3])
        let offsets = try #require(values["data_offsets"] as? [Int])
        let payload = data.subdata(in: 8 + headerLength + offsets[0]..<8 + headerLength + offsets[1])
        #expect(payload == arrays.values.withUnsafeBytes { Data($0) })
        let lengths = try #require(header["lengths"] as? [String: Any])
        let lengthOffsets = try #require(lengths["data_offsets"] as? [Int])
        #expect(8 + headerLength + lengthOffsets[1] == data.count)
    }
}
