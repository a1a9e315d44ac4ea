import ArgumentParser
import Foundation
import StrataCache

/// `strata export CACHE --column NAME --to FILE.npy|FILE.safetensors`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write one column to .npy (with .ids.npy and .lengths.npy beside it) or .safetensors.",
        discussion: """
        Values keep their stored dtype (bf16 is widened to float32 in .npy, which has no bfloat16). \
        Variable-length columns are concatenated along their first axis; 'lengths' says how many rows \
        each sample has. Ids ascend.
        """
    )

    @Argument(help: "The cache directory.")
    var cache: String

    @Option(help: "The column to export, as `strata inspect` lists it.")
    var column: String

    @Option(help: "Output file ending in .npy or .safetensors.")
    var to: String

    func validate() throws {
        let ext = URL(fileURLWithPath: to).pathExtension.lowercased()
        guard ext == "npy" || ext == "safetensors" else {
            throw ValidationError("--to must end in .npy or .safetensors, got '\(to)'")
        }
    }

    func run() throws {
        let reader = try CacheReader(path: cache)
        let arrays = try ColumnArrays(reader: reader, column: column)
        let files = try ColumnExport.write(arrays, column: column, to: URL(fileURLWithPath: to))
        print("exported \(arrays.ids.count) samples of \(column) \(arrays.values.shape) to \(files.map(\.path).joined(separator: ", "))")
    }
}
