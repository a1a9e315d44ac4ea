import Foundation
import StrataCache
import StrataTensor

/// A trained head on disk: safetensors parameters under their `state_dict` names, with the head's YAML
/// configuration and training facts in the file's `__metadata__`, so `strata eval` rebuilds the head
/// from the checkpoint alone.
public enum HeadCheckpoint {
    /// Metadata key of the configuration YAML.
    public static let configKey = "strata.head_config"
    /// Metadata key of the input widths (`{"image": {column: width}, "text": {…}}` JSON).
    public static let widthsKey = "strata.input_widths"

    /// Saves `head` with its configuration, input widths and `extra` metadata.
    public static func save(_ head: RetrievalHead, imageWidths: [String: Int], textWidths: [String: Int],
                            to url: URL, extra: [String: String] = [:]) throws {
        var metadata = extra
        metadata[configKey] = try head.config.yaml()
        let widths = try JSONSerialization.data(withJSONObject: ["image": imageWidths, "text": textWidths], options: [.sortedKeys])
        metadata[widthsKey] = String(decoding: widths, as: UTF8.self)
        try head.save(to: url, metadata: metadata)
    }

    /// Rebuilds the head stored at `url` with its trained parameters; with `cache`, first checks that
    /// the cache holds every column the head reads, with the widths it was trained on.
    public static func load(_ url: URL, for cache: CacheReader? = nil) throws -> RetrievalHead {
        let (config, image, text) = try inputs(url)
        if let cache { try check(url, config: config, imageWidths: image, textWidths: text, against: cache) }
        let head = try HeadFactory.make(config, imageWidths: image, textWidths: text)
        try head.load(contentsOf: url)
        return head
    }

    /// The head configuration and input widths stored in a checkpoint.
    static func inputs(_ url: URL) throws -> (config: HeadConfig, image: [String: Int], text: [String: Int]) {
        let metadata = try self.metadata(url)
        guard let yaml = metadata[configKey] else {
            throw TrainError.checkpoint(file: url.path, reason: "no head configuration in the metadata (not written by strata train?)")
        }
        let config = try HeadConfig.parse(yaml, file: url.path)
        guard let widthsJSON = metadata[widthsKey],
              let widths = try? JSONSerialization.jsonObject(with: Data(widthsJSON.utf8)) as? [String: [String: Int]],
              let image = widths["image"], let text = widths["text"] else {
            throw TrainError.checkpoint(file: url.path, reason: "no input widths in the metadata")
        }
        return (config, image, text)
    }

    /// Fails naming the column when the cache lacks one the head reads, holds it for the other
    /// modality, or with another feature width than the checkpoint was trained on.
    static func check(_ url: URL, config: HeadConfig, imageWidths: [String: Int], textWidths: [String: Int],
                      against cache: CacheReader) throws {
        try PairData.requireColumns(config.imageColumns + config.textColumns, in: cache)
        for (modality, names, widths) in [(Manifest.Modality.image, config.imageColumns, imageWidths), (.text, config.textColumns, textWidths)] {
            for name in names {
                let column = try cache.column(name)
                let width = try PairData.width(of: column)
                guard column.modality == modality, widths[name] == width else {
                    let trained = widths[name].map { "width \($0)" } ?? "no recorded width"
                    throw TrainError.cacheData(cache: cache.path, reason: "checkpoint \(url.path) was trained on \(modality.rawValue) column '\(name)' "
                        + "with \(trained); this cache's '\(name)' is \(column.modality.rawValue) with width \(width) (shape \(column.shape.map { $0.map(String.init) ?? "n" })); "
                        + "it was built with other encoders or levels")
                }
            }
        }
    }

    /// The `__metadata__` strings of a safetensors file (validated whole by the one reader).
    public static func metadata(_ url: URL) throws -> [String: String] {
        try Checkpoint.reader(url).metadata
    }
}
