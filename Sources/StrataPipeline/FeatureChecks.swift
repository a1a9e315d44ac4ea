import StrataCache
import StrataTensor

extension ColumnRows {
    /// Takes the samples whose stored values hold a NaN or an infinity in any column out of `rows`,
    /// returning them as failures (one per sample, naming the column and element), so they are
    /// recorded instead of written.
    static func separatingNonFinite(_ rows: [ColumnRows], modality: Manifest.Modality) throws -> (rows: [ColumnRows], failures: [(UInt64, String)]) {
        var bad: [Int: String] = [:]
        for column in rows {
            let count = column.ids.count
            guard count > 0 else { continue }
            let rowBytes = column.rows.byteCount / count
            let steps = column.rows.rank >= 2 ? column.rows.shape[1] : 1
            column.rows.withUnsafeBytes { bytes in
                for row in 0..<count where bad[row] == nil {
                    var stored = rowBytes
                    if let lengths = column.lengths, row < lengths.count, steps > 0 { stored = rowBytes / steps * lengths[row] }
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[row * rowBytes..<row * rowBytes + stored])
                    if let index = Finite.firstNonFinite(bytes: slice, dtype: column.rows.dtype) {
                        bad[row] = "\(modality == .image ? "image" : "text") encoder: non-finite feature in column '\(column.column)' at element \(index)"
                    }
                }
            }
        }
        guard !bad.isEmpty, let ids = rows.first?.ids else { return (rows, []) }
        let kept = ids.indices.filter { bad[$0] == nil }
        let cleaned = try rows.map { column -> ColumnRows in
            let rowBytes = column.rows.byteCount / max(1, column.ids.count)
            var shape = column.rows.shape
            shape[0] = kept.count
            var bytes = [UInt8]()
            bytes.reserveCapacity(rowBytes * kept.count)
            column.rows.withUnsafeBytes { raw in
                for row in kept { bytes += raw[row * rowBytes..<(row + 1) * rowBytes] }
            }
            let tensor = try bytes.withUnsafeBytes { try Tensor(shape: shape, dtype: column.rows.dtype, bytes: $0) }
            return ColumnRows(column: column.column, ids: kept.map { column.ids[$0] }, rows: tensor,
                              lengths: column.lengths.map { lengths in kept.map { lengths[$0] } })
        }
        return (cleaned, bad.keys.sorted().map { (ids[$0], bad[$0] ?? "") })
    }
}
