import Foundation
import StrataImage
import StrataModels
import StrataSchema

/// Reads a schema-valid pipeline document into a `PipelineConfig`, applying defaults and resolving paths.
struct DocumentReader {
    let root: [String: Any]
    let file: String
    let base: URL

    private func section(_ name: String) -> [String: Any] { root[name] as? [String: Any] ?? [:] }

    private func url(_ value: Any?) -> URL? {
        guard let path = value as? String else { return nil }
        let expanded = (path as NSString).expandingTildeInPath
        return expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded).standardizedFileURL
            : base.appendingPathComponent(expanded).standardizedFileURL
    }

    /// A checkpoint given as a path (relative to the pipeline file) or, when no such path exists and the text
    /// has the form of one, as a hub name resolved in the local caches (left unresolved when it is in none;
    /// the build then reports every place it looked).
    private func checkpoint(_ value: Any?) -> (url: URL?, name: String?) {
        guard let text = value as? String, let path = url(text) else { return (nil, nil) }
        guard !FileManager.default.fileExists(atPath: path.path), CheckpointResolver.looksLikeName(text) else {
            return (path, nil)
        }
        return ((try? CheckpointResolver().resolve(text)) ?? path, text)
    }

    private func urls(_ value: Any?) -> [URL] { (value as? [Any] ?? []).compactMap(url) }

    private static func int(_ value: Any?) -> Int? { SchemaValidator.number(value as Any).map { Int($0) } }

    private static func ints(_ value: Any?) -> [Int]? { (value as? [Any])?.compactMap(int) }

    private func invalid(_ key: String, _ reason: String) -> PipelineError {
        .invalidValue(file: file, key: key, reason: reason)
    }

    /// The `preprocess` section as the preprocessor runs it: torchvision's ImageNet evaluation transform
    /// where a key is absent, except that an exact `[height, width]` resize crops nothing unless asked.
    private func preprocessOptions(_ section: [String: Any]) throws -> PreprocessOptions {
        var options = PreprocessOptions()
        if let resize = section["resize"] {
            if let size = DocumentReader.ints(resize).flatMap(ImageSize.init(heightWidth:)) {
                options.resize = .size(size)
                options.crop = nil
            } else if let side = DocumentReader.int(resize) {
                options.resize = .shorterSide(side)
            }
        }
        if section.keys.contains("crop") {
            if let crop = DocumentReader.ints(section["crop"]).flatMap(ImageSize.init(heightWidth:)) { options.crop = crop }
            else if let side = DocumentReader.int(section["crop"]) { options.crop = ImageSize(width: side, height: side) }
        }
        if let name = section["interpolation"] as? String {
            guard let interpolation = Interpolation(rawValue: name) else {
                throw invalid("preprocess.interpolation", "must be one of \(Interpolation.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
            }
            options.interpolation = interpolation
        }
        if let name = section["mode"] as? String {
            guard let mode = PreprocessOptions.Mode(rawValue: name) else {
                throw invalid("preprocess.mode", "must be one of \(PreprocessOptions.Mode.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
            }
            options.mode = mode
        }
        if let exif = section["exif_transpose"] as? Bool { options.decode.exifTranspose = exif }
        if let mean = (section["mean"] as? [Any])?.compactMap({ SchemaValidator.number($0).map(Float.init) }) { options.mean = mean }
        if let std = (section["std"] as? [Any])?.compactMap({ SchemaValidator.number($0).map(Float.init) }) { options.std = std }
        if let maxPixels = DocumentReader.int(section["max_pixels"]) { options.decode.maxPixels = maxPixels }
        do {
            try options.validate()
        } catch let ImageError.invalidParameter(name, value, reason) {
            let key = name.replacingOccurrences(of: " ", with: "_")
            throw invalid("preprocess.\(key)", "\(value) \(reason)")
        }
        return options
    }

    mutating func config(sourceText: String) throws -> PipelineConfig {
        let data = section("dataset")
        guard let images = url(data["images"]) else { throw invalid("dataset.images", "is required") }
        let annotations = urls(data["annotations"])
        if annotations.isEmpty && data["karpathy"] == nil {
            throw invalid("dataset.annotations", "must list at least one captions file (or give dataset.karpathy)")
        }
        let dataset = PipelineConfig.Dataset(
            annotations: annotations, images: images, instances: urls(data["instances"]),
            karpathy: url(data["karpathy"]), splits: data["splits"] as? [String],
            limit: DocumentReader.int(data["limit"]), extraImages: urls(data["extra_images"]))

        let preprocess = try preprocessOptions(section("preprocess"))

        var tokenizer = PipelineConfig.Tokenizer()
        let tok = section("tokenizer")
        tokenizer.path = url(tok["path"])
        if let maxLength = DocumentReader.int(tok["max_length"]) { tokenizer.maxLength = maxLength }

        let encoders = section("encoders")
        let imageEncoder = try encoder(encoders["image"], key: "encoders.image", modality: .image)
        let textEncoder = try encoder(encoders["text"], key: "encoders.text", modality: .text)
        if textEncoder != nil && tokenizer.path == nil {
            // A BERT checkpoint folder carries its own vocabulary.
            tokenizer.path = textEncoder?.checkpoint
        }
        if textEncoder != nil && tokenizer.path == nil {
            throw invalid("tokenizer.path", "is required when encoders.text has no checkpoint folder")
        }

        var batch = PipelineConfig.Batch()
        let batchSection = section("batch")
        if let value = DocumentReader.int(batchSection["images"]) { batch.images = value }
        if let value = DocumentReader.int(batchSection["captions"]) { batch.captions = value }
        if let value = DocumentReader.int(batchSection["commit_every"]) { batch.commitEvery = value }

        var workers = PipelineConfig.Workers()
        let work = section("workers")
        if let value = DocumentReader.int(work["decode"]) { workers.decode = value }
        if let value = DocumentReader.int(work["tokenize"]) { workers.tokenize = value }
        if let value = DocumentReader.int(work["image_encoder"]) { workers.imageEncoder = value }
        if let value = DocumentReader.int(work["text_encoder"]) { workers.textEncoder = value }
        if let value = DocumentReader.int(work["blas_threads"]) { workers.blasThreads = value }
        if let value = DocumentReader.int(work["queue_depth"]) { workers.queueDepth = value }

        guard let cache = url(section("output")["cache"]) else { throw invalid("output.cache", "is required") }
        let canonical = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
        return PipelineConfig(
            name: root["name"] as? String ?? cache.lastPathComponent, dataset: dataset, preprocess: preprocess,
            tokenizer: tokenizer, imageEncoder: imageEncoder, textEncoder: textEncoder, batch: batch,
            workers: workers, cache: cache, sourceText: sourceText,
            documentJSON: String(decoding: canonical, as: UTF8.self))
    }

    private func encoder(_ value: Any?, key: String, modality: ModelFamily.Modality) throws -> PipelineConfig.Encoder? {
        guard let section = value as? [String: Any] else { return nil }
        let model = section["model"] as? String ?? ""
        guard let family = ModelRegistry.family(named: model), family.modality == modality else {
            throw invalid("\(key).model", "must be one of \(ModelRegistry.names(for: modality).joined(separator: ", ")) here, found \"\(model)\"")
        }
        var configJSON: String?
        if let config = section["config"] {
            configJSON = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        }
        var names = Set<String>()
        var levels: [PipelineConfig.Level] = []
        for (offset, raw) in (section["levels"] as? [Any] ?? []).enumerated() {
            guard let level = raw as? [String: Any], let output = level["output"] as? String else { continue }
            let name = level["name"] as? String ?? output
            guard names.insert(name).inserted else {
                throw invalid("\(key).levels[\(offset)].name", "repeats \"\(name)\"; level names must be unique")
            }
            guard family.accepts(output: output) else {
                throw invalid("\(key).levels[\(offset)].output", "\"\(output)\" is not an output of \(model) (outputs: \(family.outputSummary))")
            }
            let reduce = level["reduce"] as? String ?? "none"
            if !family.isTokenFamily && reduce != "none" {
                throw invalid("\(key).levels[\(offset)].reduce", "applies to transformer outputs only")
            }
            let pool = DocumentReader.ints(level["pool"])
            let patchGrid = family.hasPatchTokens && reduce == "patches"
            if pool != nil && !family.isFeatureMap(output) && !patchGrid {
                throw invalid("\(key).levels[\(offset)].pool",
                              "applies to convolutional feature maps (\(model): \(family.featureMaps.map(\.name).joined(separator: ", "))) and ViT patch tokens (reduce: patches) only")
            }
            levels.append(PipelineConfig.Level(name: name, output: output, pool: pool, reduce: reduce,
                                               dtype: level["dtype"] as? String ?? "f16"))
        }
        let checkpoint = checkpoint(section["checkpoint"])
        return PipelineConfig.Encoder(model: model, checkpoint: checkpoint.url, checkpointName: checkpoint.name,
                                      configJSON: configJSON, seed: UInt64(DocumentReader.int(section["seed"]) ?? 0),
                                      levels: levels)
    }
}
