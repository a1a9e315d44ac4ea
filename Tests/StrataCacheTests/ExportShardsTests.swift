import Foundation
import StrataTensor
import StrataTestSupport
import Testing
@testable import StrataCache

/// `strata export --to DIR/`: `.npy` shards and a metadata table per shard, as clip-retrieval lays them out.
@Suite struct ExportShardsTests {
    @Test func shardsAndMetadataTablesFollowTheColumnsRows() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 5)
        let out = try TemporaryCache()
        let strata = try Programs.strata()
        let listing = try Programs.run(strata, ["export", cache.path, "--column", "image/synthetic/bf16", "--to", out.path + "/", "--shard-size", "4"]).output
        #expect(listing.contains("to 3 shard(s)"), "\(listing)")

        let reader = try CacheReader(path: cache.path)
        let whole = try ColumnArrays(reader: reader, column: "image/synthetic/bf16")
        var row = 0
        for shard in 0..<3 {
            let values = try NPY.read(contentsOf: out.url.appendingPathComponent("img_emb/img_emb_\(shard).npy"))
            let count = min(4, whole.ids.count - 4 * shard)
            // bf16 is widened to f32, with the same values.
            #expect(values.dtype == .f32 && values.shape == [count, 3])
            #expect(values.floats == Array(whole.values.converted(to: .f32).floats[3 * row..<3 * (row + count)]))
            let text = try String(contentsOf: out.url.appendingPathComponent("metadata/metadata_\(shard).jsonl"), encoding: .utf8)
            let rows = try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(rows.count == count)
            for (offset, fields) in rows.enumerated() {
                let id = whole.ids[row + offset]
                let image = try #require(try reader.image(id: id))
                #expect(fields["id"] as? Int == Int(id) && fields["image_id"] as? Int == Int(id))
                #expect(fields["file_name"] as? String == image.fileName && fields["split"] as? String == "\(image.split)")
                #expect(fields["caption_id"] as? Int == Int(id + SyntheticCache.captionOffset))
                #expect(fields["caption"] as? String == "caption of image \(id) ✓")
            }
            #expect(!text.contains("\\/"))
            row += count
        }
        #expect(row == whole.ids.count)

        // The Python side reads the tables as columns, and writes Parquet when pyarrow is installed.
        let script = """
        import sys
        sys.path.insert(0, sys.argv[1])
        import strata_cache
        columns = strata_cache.read_metadata_jsonl(sys.argv[2] + "/metadata/metadata_1.jsonl")
        assert [name for name, _ in strata_cache.METADATA_FIELDS] == list(columns), list(columns)
        assert len(columns["id"]) == 4 and columns["caption"][0] == f"caption of image {columns['id'][0]} ✓", columns
        try:
            import pyarrow.parquet
        except ImportError:
            try:
                strata_cache.metadata_to_parquet(sys.argv[2] + "/metadata/metadata_1.jsonl")
                raise AssertionError("no error without pyarrow")
            except ImportError as error:
                assert "pip install pyarrow" in str(error), error
            print("tables read; parquet needs pyarrow")
        else:
            table = pyarrow.parquet.read_table(strata_cache.metadata_to_parquet(sys.argv[2] + "/metadata/metadata_1.jsonl"))
            assert table.to_pydict() == columns and str(table.schema.field("id").type) == "uint64", table
            print("tables read; parquet written")
        """
        let python = try Programs.python()
        let package = SharedData.repositoryRoot.appendingPathComponent("python").path
        #expect(try Programs.run(python, ["-c", script, package, out.path]).output.hasPrefix("tables read"))
    }

    @Test func tokenColumnsAreRefusedWithAHint() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 1, size: 3)
        let out = try TemporaryCache()
        #expect {
            try ColumnShards.write(reader: try CacheReader(path: cache.path), column: "text/synthetic/tokens", to: out.url, shardSize: 10)
        } throws: { "\($0)".contains("export it to a .npy file") }
    }
}
