import Foundation
import StrataTensor

/// A whole column read into memory, ids ascending.
public struct ColumnArrays {
    /// The sample ids, ascending.
    public let ids: [UInt64]
    /// The values stacked in the column's dtype: `[N, ...]`, or `[ΣT, ...]` (rows concatenated) for
    /// variable-length columns.
    public let values: Tensor
    /// For variable-length columns, each sample's length (its rows in `values`); nil otherwise.
    public let lengths: [Int]?

    /// Reads `column` of `reader`.
    public init(reader: CacheReader, column name: String) throws {
        let column = try reader.column(name)
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        let table = try snapshot.table(name)
        var ids: [UInt64] = []
        var lengths: [Int] = []
        var bytes: [UInt8] = []
        try snapshot.transaction.forEach(table) { key, value in
            guard let id = SampleKey.id(key) else {
                throw CacheError.badRecord(table: name, id: 0, reason: "key of \(key.count) bytes, expected 8")
            }
            guard let shape = column.sampleShape(byteCount: value.count) else {
                throw CacheError.valueSizeMismatch(column: name, id: id, expectedBytes: column.rowBytes, actualBytes: value.count)
            }
            ids.append(id)
            if column.isVariableLength { lengths.append(shape[0]) }
            bytes.append(contentsOf: value)
            return true
        }
        let leading = column.isVariableLength ? lengths.reduce(0, +) : ids.count
        self.ids = ids
        self.lengths = column.isVariableLength ? lengths : nil
        values = try bytes.withUnsafeBytes { try Tensor(shape: [leading] + column.fixedShape, dtype: column.dtype, bytes: $0) }
    }
}

/// Writes a column to files NumPy and safetensors users read directly.
///
/// - `.npy`: `FILE.npy` holds the values (bf16 widened to `<f4`, since NumPy has no bfloat16),
///   `FILE.ids.npy` the ids (`<u8`), and for variable-length columns `FILE.lengths.npy` (`<i8`).
/// - `.safetensors`: one file with tensors `ids` (U64), `values` (stored dtype) and `lengths` (I64).
public enum ColumnExport {
    /// Writes `arrays` to `url` in the format its extension names; returns the files written.
    @discardableResult
    public static func write(_ arrays: ColumnArrays, column: String, to url: URL) throws -> [URL] {
        do {
            switch url.pathExtension.lowercased() {
            case "npy":
                let stem = url.deletingPathExtension()
                var written = [url, stem.appendingPathExtension("ids.npy")]
                try NPY.write(arrays.values, to: url)
                try npy(descr: "<u8", shape: [arrays.ids.count], payload: littleEndianBytes(arrays.ids)).write(to: written[1])
                if let lengths = arrays.lengths {
                    written.append(stem.appendingPathExtension("lengths.npy"))
                    try npy(descr: "<i8", shape: [lengths.count], payload: littleEndianBytes(lengths.map { Int64($0) })).write(to: written[2])
                }
                return written
            case "safetensors":
                try safetensors(arrays, column: column).write(to: url)
                return [url]
            default:
                throw CacheError.invalidArgument("export to '\(url.lastPathComponent)': the file must end in .npy or .safetensors")
            }
        } catch let error as CacheError {
            throw error
        } catch {
            throw CacheError.io(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * MemoryLayout<T>.size)
        for value in values { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// A version 1.0 `.npy` file of integer data (the tensor module writes the float types).
    static func npy(descr: String, shape: [Int], payload: [UInt8]) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        let length = header.utf8.count
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    static func safetensors(_ arrays: ColumnArrays, column: String) throws -> Data {
        var blobs: [SafetensorsWriter.Blob] = [
            .init(name: "ids", dtype: "U64", shape: [arrays.ids.count], bytes: Data(littleEndianBytes(arrays.ids))),
            .init(name: "values", tensor: arrays.values),
        ]
        if let lengths = arrays.lengths {
            blobs.append(.init(name: "lengths", dtype: "I64", shape: [lengths.count], bytes: Data(littleEndianBytes(lengths.map { Int64($0) }))))
        }
        return try SafetensorsWriter.encode(blobs, metadata: ["column": column, "format": "strata-column"])
    }
}

/// Writes a column in the layout clip-retrieval users know: embeddings in `.npy` shards and, per
/// shard, a metadata table with one row per embedding row, in the same order.
///
/// `DIR/img_emb/img_emb_N.npy` (or `text_emb/text_emb_N.npy`) holds `[n, ...]` values (bf16 widened to
/// `<f4`); `DIR/metadata/metadata_N.jsonl` holds JSON objects with `id` (the cache key), `image_id`,
/// `file_name`, `split`, `caption_id` and `caption`. An image row carries its image's first caption (lowest
/// id), a caption row its own and its image's fields. The `strata_cache` Python package (`python/`) turns each JSON Lines
/// table into `metadata_N.parquet` with pyarrow.
public enum ColumnShards {
    /// Writes `column` of `reader` into `directory` in shards of `shardSize` samples; returns the files.
    @discardableResult
    public static func write(reader: CacheReader, column name: String, to directory: URL, shardSize: Int) throws -> [URL] {
        let column = try reader.column(name)
        guard !column.isVariableLength else {
            throw CacheError.invalidArgument("column '\(name)' holds a variable number of rows per sample (tokens); "
                + "shards hold one row per sample: export it to a .npy file (values, ids, lengths) or pick a pooled column")
        }
        guard shardSize > 0 else { throw CacheError.invalidArgument("the shard size must be positive, got \(shardSize)") }
        let arrays = try ColumnArrays(reader: reader, column: name)
        let rows = try metadata(reader: reader, modality: column.modality, ids: arrays.ids)
        let prefix = column.modality == .image ? "img_emb" : "text_emb"
        let embeddings = directory.appendingPathComponent(prefix), tables = directory.appendingPathComponent("metadata")
        var written: [URL] = []
        do {
            for folder in [embeddings, tables] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
            let rowBytes = column.rowBytes
            for (shard, start) in stride(from: 0, to: max(arrays.ids.count, 1), by: shardSize).enumerated() {
                let end = min(start + shardSize, arrays.ids.count)
                let values = try arrays.values.withUnsafeBytes {
                    try Tensor(shape: [end - start] + column.fixedShape, dtype: column.dtype,
                               bytes: UnsafeRawBufferPointer(rebasing: $0[start * rowBytes..<end * rowBytes]))
                }
                let npy = embeddings.appendingPathComponent("\(prefix)_\(shard).npy")
                try NPY.write(values, to: npy)
                var lines = Data()
                for row in rows[start..<end] {
                    lines.append(try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys, .withoutEscapingSlashes]))
                    lines.append(0x0A)
                }
                let table = tables.appendingPathComponent("metadata_\(shard).jsonl")
                try lines.write(to: table)
                written += [npy, table]
            }
        } catch let error as CacheError {
            throw error
        } catch {
            throw CacheError.io(path: directory.path, reason: "cannot write: \(error.localizedDescription)")
        }
        return written
    }

    /// The metadata row of each sample id, in order.
    static func metadata(reader: CacheReader, modality: Manifest.Modality, ids: [UInt64]) throws -> [[String: Any]] {
        let snapshot = try reader.snapshot()
        defer { snapshot.end() }
        func imageFields(_ id: UInt64) throws -> [String: Any] {
            let record = try snapshot.image(id: id)
            return ["image_id": id, "file_name": record?.fileName ?? NSNull(), "split": record.map { "\($0.split)" } ?? NSNull()]
        }
        switch modality {
        case .text:
            return try ids.map { id in
                guard let caption = try snapshot.caption(id: id) else {
                    throw CacheError.badRecord(table: CacheLayout.captionsTable, id: id, reason: "a text value has no caption record")
                }
                return try imageFields(caption.imageID).merging(["id": id, "caption_id": id, "caption": caption.text]) { $1 }
            }
        case .image:
            var firstCaption: [UInt64: (id: UInt64, text: String)] = [:]
            for id in try snapshot.ids(table: CacheLayout.captionsTable) {
                guard let caption = try snapshot.caption(id: id), firstCaption[caption.imageID] == nil else { continue }
                firstCaption[caption.imageID] = (id, caption.text)
            }
            return try ids.map { id in
                let caption = firstCaption[id]
                return try imageFields(id).merging(["id": id, "caption_id": caption.map { $0.id } ?? NSNull(),
                                                    "caption": caption.map { $0.text } ?? NSNull()]) { $1 }
            }
        }
    }
}
