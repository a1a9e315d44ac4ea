import ArgumentParser
import Foundation
import StrataCache

/// `strata inspect CACHE`: the manifest, columns, counts and sizes of a cache.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a cache's manifest, columns, counts and sizes."
    )

    @OptionGroup var location: CacheArgument

    @Flag(help: "Print the manifest JSON as stored instead of the summary.")
    var json = false

    func run() throws {
        let reader = try location.reader()
        let manifest = reader.manifest
        if json {
            print(String(decoding: try manifest.encoded(), as: UTF8.self))
            return
        }
        let sizes = try reader.tableSizes()
        let counts = try reader.tableCounts()
        let dataFile = (try? FileManager.default.attributesOfItem(atPath: reader.path + "/data.mdb")[.size] as? Int) ?? 0
        print("cache \(reader.path)")
        print("  format version \(manifest.formatVersion), data file \(ByteText.format(dataFile))")
        print("  \(manifest.counts.images) images, \(manifest.counts.captions) captions, \(manifest.counts.failures) failures, \(manifest.counts.batches) batches committed")
        for encoder in manifest.encoders {
            print("  encoder \(encoder.name): \(encoder.architecture) \(encoder.checkpoint), weights sha256 \(encoder.weightsSHA256)"
                  + (encoder.gemm.map { ", gemm \($0)" } ?? ""))
        }
        if let p = manifest.preprocessing {
            print("  preprocessing: \(p.summary), \(p.interpolation), mean \(p.mean), std \(p.std), \(p.mode) mode")
        }
        if let t = manifest.tokenizer {
            print("  tokenizer: \(t.kind), \(t.vocabSize) tokens (vocab sha256 \(t.vocabSHA256)), lowercase \(t.lowercase), max length \(t.maxLength)")
        }
        let pipelineLines = manifest.pipeline.split(separator: "\n", omittingEmptySubsequences: false).count
        print("  pipeline file: \(manifest.pipeline.utf8.count) bytes, \(pipelineLines) lines (--json shows it)")
        print("  columns:")
        let width = manifest.columns.map(\.name.count).max() ?? 0
        for column in manifest.columns {
            let shape = "[" + column.shape.map { $0.map(String.init) ?? "n" }.joined(separator: ", ") + "]"
            var details: [String] = []
            if let level = column.level { details.append("level \(level)") }
            if let stride = column.stride { details.append("stride \(stride)") }
            if let layer = column.layer { details.append("layer \(layer)") }
            if let pooling = column.pooling { details.append("pooling \(pooling)") }
            let stored = counts[column.name] ?? 0
            let mismatch = stored == column.count ? "" : " (table holds \(stored))"
            print("    \(column.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(column.modality.rawValue)  \(column.dtype) \(shape)  \(column.count) samples\(mismatch)  \(ByteText.format(sizes[column.name] ?? 0))  \(details.joined(separator: ", "))")
        }
    }
}

/// Byte counts for people.
enum ByteText {
    static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
