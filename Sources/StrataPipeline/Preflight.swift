import Foundation
import StrataModels

/// Checks a build's inputs before any encoder loads, so a wrong path fails in a second with the key
/// that named it instead of ending "complete" with every image recorded as a failure.
public enum Preflight {
    /// What an input must be.
    enum Kind {
        case file, directory, either
    }

    /// One path the pipeline (or a command-line option) names.
    struct Input {
        let key: String
        let url: URL
        let kind: Kind
        /// The hub name the input was given as, when it was not a path.
        var hubName: String?
    }

    /// Images sampled from the plan to check that the image folder is the right one.
    public static let sampleSize = 32

    /// Every input folder and file the pipeline names exists, has the right kind and is readable;
    /// encoder checkpoints too, unless missing ones are to be seeded.
    public static func checkInputs(_ config: PipelineConfig, options: BuildOptions) throws {
        for input in inputs(config, options: options) {
            var isDirectory: ObjCBool = false
            let path = input.url.path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                var reason = "does not exist"
                if let name = input.hubName {
                    do {
                        _ = try CheckpointResolver().resolve(name)
                    } catch {
                        reason = "is not a path, and as a hub name: \(error)"
                    }
                } else if input.key.hasPrefix("encoders.") || input.key.hasSuffix("-checkpoint") {
                    reason += " (give one with --image-checkpoint or --text-checkpoint, or remove `checkpoint` to run on weights drawn from `seed`)"
                }
                throw missing(config, input, reason)
            }
            switch input.kind {
            case .file where isDirectory.boolValue: throw missing(config, input, "is a folder, not a file")
            case .directory where !isDirectory.boolValue: throw missing(config, input, "is a file, not a folder")
            default: break
            }
            guard FileManager.default.isReadableFile(atPath: path) else { throw missing(config, input, "is not readable") }
        }
    }

    /// A sample of the plan's image files (spread evenly over it) exists and is readable; fails when
    /// half or more of the sample is missing, which means the image folder is not the dataset's.
    public static func checkImageSample(_ plan: BuildPlan, config: PipelineConfig) throws {
        let images = plan.shards.flatMap(\.images).filter { $0.id < BuildPlan.extraImageIDBase }
        guard !images.isEmpty else { return }
        let count = min(sampleSize, images.count)
        let sample = (0..<count).map { images[$0 * images.count / count] }
        let missing = sample.filter { !FileManager.default.isReadableFile(atPath: $0.path) }
        guard missing.isEmpty || missing.count * 2 < sample.count else {
            let examples = missing.prefix(2).map(\.path).joined(separator: ", ")
            throw Preflight.missing(config, Input(key: "dataset.images", url: config.dataset.images, kind: .directory),
                                    "does not hold the dataset's images: \(missing.count) of \(sample.count) sampled files are missing or unreadable (e.g. \(examples))")
        }
    }

    /// The inputs of `config`, keyed as the pipeline file (or the command line) names them.
    static func inputs(_ config: PipelineConfig, options: BuildOptions) -> [Input] {
        let dataset = config.dataset
        var inputs = dataset.annotations.enumerated().map { Input(key: "dataset.annotations[\($0)]", url: $1, kind: .file) }
        inputs.append(Input(key: "dataset.images", url: dataset.images, kind: .directory))
        inputs += dataset.instances.enumerated().map { Input(key: "dataset.instances[\($0)]", url: $1, kind: .file) }
        if let karpathy = dataset.karpathy { inputs.append(Input(key: "dataset.karpathy", url: karpathy, kind: .file)) }
        inputs += dataset.extraImages.enumerated().map { Input(key: "dataset.extra_images[\($0)]", url: $1, kind: .either) }
        if !options.seedMissingCheckpoints {
            if let url = options.imageCheckpoint ?? config.imageEncoder?.checkpoint {
                inputs.append(Input(key: options.imageCheckpoint == nil ? "encoders.image.checkpoint" : "--image-checkpoint", url: url,
                                    kind: .either, hubName: options.imageCheckpoint == nil ? config.imageEncoder?.checkpointName : nil))
            }
            if let url = options.textCheckpoint ?? config.textEncoder?.checkpoint {
                inputs.append(Input(key: options.textCheckpoint == nil ? "encoders.text.checkpoint" : "--text-checkpoint", url: url,
                                    kind: .either, hubName: options.textCheckpoint == nil ? config.textEncoder?.checkpointName : nil))
            }
        }
        // Without `tokenizer.path`, the tokenizer is the text checkpoint's folder, checked above; so it
        // is when a --text-checkpoint folder brings its own vocabulary.
        if let tokenizer = config.tokenizer.path, written(config, key: "tokenizer.path") != nil,
           BuildRunner.tokenizerLocation(tokenizer, textCheckpoint: options.textCheckpoint) == tokenizer {
            inputs.append(Input(key: "tokenizer.path", url: tokenizer, kind: .either))
        }
        return inputs
    }

    private static func missing(_ config: PipelineConfig, _ input: Input, _ reason: String) -> PipelineError {
        // Options arrive resolved against the working folder; pipeline values as written.
        let commandLine = input.key.hasPrefix("--")
        let text = (commandLine ? nil : written(config, key: input.key)) ?? input.url.path
        let relative = !(text.hasPrefix("/") || text.hasPrefix("~"))
        return .inputMissing(file: commandLine ? "command line" : config.file, key: input.key, path: input.url.path,
                             written: text, base: relative ? config.baseDirectory.path + " (the pipeline file's folder)" : nil,
                             reason: reason)
    }

    /// The value of a dotted key (`dataset.annotations[1]`) as written in the pipeline file.
    static func written(_ config: PipelineConfig, key: String) -> String? {
        var value: Any? = config.document
        for part in key.split(separator: ".") {
            var name = Substring(part)
            var index: Int?
            if let open = part.firstIndex(of: "["), part.hasSuffix("]") {
                name = part[..<open]
                index = Int(part[part.index(after: open)..<part.index(before: part.endIndex)])
            }
            value = (value as? [String: Any])?[String(name)]
            if let index { value = (value as? [Any]).flatMap { index < $0.count ? $0[index] : nil } }
        }
        return value as? String
    }
}
