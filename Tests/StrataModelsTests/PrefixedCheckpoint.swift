import Foundation
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// A fixture checkpoint folder saved as a task checkpoint would be: every tensor name under `prefix`, plus a
/// head tensor the encoders must ignore.
enum PrefixedCheckpoint {
    /// Writes `fixtures/torch/<fixture>` with names under `prefix` and `extra` added into a new temporary
    /// folder, and returns the folder (the caller removes it).
    static func write(fixture: String, prefix: String, extra: (name: String, tensor: Tensor)) throws -> URL {
        let folder = try SharedData.temporaryDirectory("strata-\(fixture)")
        let source = try SafetensorsFile(url: SharedData.url("fixtures/torch/\(fixture)/model.safetensors"))
        var tensors = try source.names.map { (prefix + $0, try source.tensor($0)) }
        tensors.append(extra)
        try SafetensorsWriter.write(tensors, to: folder.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: SharedData.url("fixtures/torch/\(fixture)/config.json"),
                                         to: folder.appendingPathComponent("config.json"))
        return folder
    }
}
