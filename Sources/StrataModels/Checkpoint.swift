import Foundation
import StrataTensor

/// A safetensors checkpoint seen through a name prefix (e.g. `bert.` in classification checkpoints),
/// with typed look-ups that check shapes against what the model's config implies.
struct Checkpoint {
    /// The mapped file.
    let file: SafetensorsFile
    /// Prepended to every name asked for.
    let prefix: String

    /// The weights of `url`: a `.safetensors` file, or a folder holding `model.safetensors`.
    static func open(_ url: URL) throws -> SafetensorsFile {
        try SafetensorsFile(url: weightsURL(url))
    }

    /// `url` itself, or `url/model.safetensors` when `url` is a folder.
    static func weightsURL(_ url: URL) -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return url.appendingPathComponent("model.safetensors")
        }
        return url
    }

    /// The first prefix under which `probe` exists, or a `missingTensor` error naming `probe`.
    static func detectPrefix(_ file: SafetensorsFile, probe: String, candidates: [String]) throws -> String {
        for candidate in candidates where file.contains(candidate + probe) { return candidate }
        throw ModelError.missingTensor(file: file.path, tensor: probe)
    }

    var path: String { file.path }

    func contains(_ name: String) -> Bool { file.contains(prefix + name) }

    /// The tensor as f32, with exactly this shape; a NaN or an infinity in it is refused, naming the tensor.
    func float(_ name: String, _ shape: [Int]) throws -> Tensor {
        let tensor = try file.floatTensor(prefix + name, shape: shape)
        if let index = tensor.firstNonFinite {
            let value = tensor.withUnsafeFloats { $0[index] }
            throw ModelError.nonFiniteWeight(file: path, tensor: prefix + name, index: index, value: "\(value)")
        }
        return tensor
    }

    /// The tensor's shape.
    func shape(_ name: String) throws -> [Int] {
        try file.entry(prefix + name).shape
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
