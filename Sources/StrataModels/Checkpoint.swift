import Foundation
import StrataTensor

/// A checkpoint in any format Strata reads, seen through a name prefix (e.g. `bert.` in classification
/// checkpoints), with typed look-ups that check shapes against what the model's config implies.
///
/// `float(_:_:)` is the one place where a model's weights are materialised from a checkpoint.
struct Checkpoint {
    /// The tensors.
    let source: any TensorSource
    /// Prepended to every name asked for.
    let prefix: String

    /// The weights files a checkpoint folder may hold, in the order they are looked for.
    static let folderFiles = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                              "pytorch_model.bin.index.json"]

    /// Opens the weights of `url`: a file in any supported format, or a folder holding one of `folderFiles`.
    static func open(_ url: URL) throws -> any TensorSource {
        try openFile(weightsURL(url))
    }

    /// `url` itself when it is a file; a folder's first weights file of `folderFiles`.
    static func weightsURL(_ url: URL) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelError.unreadable(file: url.path, reason: "no such file or folder")
        }
        guard isDirectory.boolValue else { return url }
        for name in folderFiles {
            let candidate = url.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        throw ModelError.noWeights(folder: url.path, looked: folderFiles)
    }

    /// Opens one weights file by its content: a `.json` index of shards, a `torch.save` archive (zip, or the
    /// legacy pickle format) or a safetensors file.
    static func openFile(_ url: URL) throws -> any TensorSource {
        if url.pathExtension.lowercased() == "json" { return try ShardedCheckpoint(index: url) }
        let file = try ModelError.mapping(url)
        if ZipArchive.looksLikeZip(file) || TorchCheckpoint.isLegacy(file) {
            return try TorchCheckpoint(file: file, path: url.path)
        }
        return try SafetensorsFile(file: file, path: url.path)
    }

    /// The first prefix under which `probe` exists, or a `missingTensor` error naming `probe`.
    static func detectPrefix(_ source: any TensorSource, probe: String, candidates: [String]) throws -> String {
        for candidate in candidates where source.contains(candidate + probe) { return candidate }
        throw ModelError.missingTensor(file: source.path, tensor: probe)
    }

    var path: String { source.path }

    func contains(_ name: String) -> Bool { source.contains(prefix + name) }

    /// The tensor as f32, with exactly this shape; a NaN or an infinity in it is refused, naming the tensor.
    func float(_ name: String, _ shape: [Int]) throws -> Tensor {
        let actual = try source.shape(of: prefix + name)
        guard actual == shape else {
            throw ModelError.shapeMismatch(file: path, tensor: prefix + name, expected: shape, actual: actual)
        }
        let tensor = try source.floatTensor(prefix + name)
        if let index = tensor.firstNonFinite {
            let value = tensor.withUnsafeFloats { $0[index] }
            throw ModelError.nonFiniteWeight(file: path, tensor: prefix + name, index: index, value: "\(value)")
        }
        return tensor
    }

    /// The tensor's shape.
    func shape(_ name: String) throws -> [Int] {
        try source.shape(of: prefix + name)
    }

    /// The tensor as a Swift array, with exactly this shape.
    func floats(_ name: String, _ shape: [Int]) throws -> [Float] {
        try float(name, shape).floats
    }
}

/// Values from a Hugging Face `config.json`.
struct ModelConfig {
    let path: String
    let values: [String: Any]

    /// Reads `folder/config.json`.
    init(folder: URL) throws {
        let url = folder.appendingPathComponent("config.json")
        path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError.unreadable(file: url.path, reason: "cannot read config.json (\(error.localizedDescription))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw ModelError.badConfig(file: url.path, key: "", reason: "not a JSON object")
        }
        values = dictionary
    }

    /// A positive integer, or `fallback` when absent.
    func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
        guard let raw = values[key] else {
            if let fallback { return fallback }
            throw ModelError.badConfig(file: path, key: key, reason: "missing")
        }
        guard let number = raw as? NSNumber, number.doubleValue == number.doubleValue.rounded(), number.doubleValue >= 1,
              number.doubleValue < 1e9 else {
            throw ModelError.badConfig(file: path, key: key, reason: "must be a positive integer, got \(raw)")
        }
        return number.intValue
    }

    /// A number, or `fallback` when absent.
    func double(_ key: String, _ fallback: Double) throws -> Double {
        guard let raw = values[key] else { return fallback }
        guard let number = raw as? NSNumber else {
            throw ModelError.badConfig(file: path, key: key, reason: "must be a number, got \(raw)")
        }
        return number.doubleValue
    }

    /// A finite number greater than zero (an epsilon, a scale), or `fallback` when absent.
    func positiveDouble(_ key: String, _ fallback: Double) throws -> Double {
        let value = try double(key, fallback)
        guard value.isFinite, value > 0 else {
            throw ModelError.badConfig(file: path, key: key, reason: "must be a finite number greater than 0, got \(value)")
        }
        return value
    }

    /// A string, or `fallback` when absent.
    func string(_ key: String, _ fallback: String) throws -> String {
        guard let raw = values[key] else { return fallback }
        guard let text = raw as? String else {
            throw ModelError.badConfig(file: path, key: key, reason: "must be a string, got \(raw)")
        }
        return text
    }

    /// A boolean, or `fallback` when absent.
    func bool(_ key: String, _ fallback: Bool) -> Bool {
        (values[key] as? Bool) ?? fallback
    }

    /// The hidden activation: only exact GELU is implemented.
    func geluActivation() throws {
        let act = try string("hidden_act", "gelu")
        guard act == "gelu" else {
            throw ModelError.badConfig(file: path, key: "hidden_act", reason: "'\(act)' is not supported (only exact 'gelu')")
        }
    }
}
