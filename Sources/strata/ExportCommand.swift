import ArgumentParser
import Foundation
import StrataCache

/// `strata export CACHE --column NAME --to FILE.npy|FILE.safetensors|DIR/`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write one column to .npy (with .ids.npy and .lengths.npy beside it), .safetensors, or .npy shards with metadata tables (DIR/).",
        discussion: """
        Values keep their stored dtype (bf16 is widened to float32 in .npy, which has no bfloat16). \
        Variable-length columns are concatenated along their first axis; 'lengths' says how many rows \
        each sample has. Ids ascend. \
        With --to DIR/ the column is written as clip-retrieval lays out embeddings: DIR/img_emb/img_emb_N.npy \
        (or text_emb/text_emb_N.npy) and DIR/metadata/metadata_N.jsonl, one row per embedding row (id, \
        image_id, file_name, split, caption_id, caption); `python3 -m strata_cache to-parquet DIR` (pip install ./python) \
        turns the tables into metadata_N.parquet (needs pyarrow).
        """
    )

    @OptionGroup var location: CacheArgument

    @Option(help: "The column to export, as `strata inspect` lists it.")
    var column: String

    @Option(help: "Output file ending in .npy or .safetensors, or a folder ending in / for .npy shards with metadata tables.")
    var to: String

    @Option(help: "Samples per shard when exporting to a folder.")
    var shardSize = 100_000

    private var toFolder: Bool { to.hasSuffix("/") }

    func validate() throws {
        let ext = URL(fileURLWithPath: to).pathExtension.lowercased()
        guard toFolder || ext == "npy" || ext == "safetensors" else {
            throw ValidationError("--to must end in .npy or .safetensors, or be a folder ending in /, got '\(to)'")
        }
        guard shardSize > 0 else { throw ValidationError("--shard-size must be positive") }
    }

    func run() throws {
        let reader = try location.reader()
        if toFolder {
            let files = try ColumnShards.write(reader: reader, column: column, to: URL(fileURLWithPath: to, isDirectory: true), shardSize: shardSize)
            print("exported \(try reader.column(column).count) samples of \(column) to \(files.count / 2) shard(s) in \(to): "
                  + files.map(\.lastPathComponent).joined(separator: ", "))
            return
        }
        let arrays = try ColumnArrays(reader: reader, column: column)
        let files = try ColumnExport.write(arrays, column: column, to: URL(fileURLWithPath: to))
        print("exported \(arrays.ids.count) samples of \(column) \(arrays.values.shape) to \(files.map(\.path).joined(separator: ", "))")
    }
}
