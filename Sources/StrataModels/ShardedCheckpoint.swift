import Foundation
import StrataTensor

/// A checkpoint split into shards by a Hugging Face index (`model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`): `{"metadata": {...}, "weight_map": {tensor: shard file}}`, the
/// shards beside the index. Each shard is opened once, in whichever format it is written; every name the
/// index lists must be in its shard.
public final class ShardedCheckpoint: TensorSource, @unchecked Sendable {
    public let path: String
    public let names: [String]
    /// The shard files, in name order.
    public let shardURLs: [URL]
    private let shardOf: [String: any TensorSource]

    /// Opens the index at `url` and the shards it names.
    public init(index url: URL) throws {
        path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let root = object as? [String: Any],
              let map = root["weight_map"] as? [String: Any] else {
            throw ModelError.badIndex(file: url.path, reason: "not a JSON object with a 'weight_map' object")
        }
        let folder = url.deletingLastPathComponent()
        var opened: [String: any TensorSource] = [:]
        var shardOf: [String: any TensorSource] = [:]
        for (name, value) in map {
            guard let shard = value as? String, !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                throw ModelError.badIndex(file: url.path, reason: "tensor '\(name)': shard must be a file name beside the index, got \(value)")
            }
            if opened[shard] == nil {
                let shardURL = folder.appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: shardURL.path) else {
                    throw ModelError.badIndex(file: url.path, reason: "shard \(shard) (of tensor '\(name)') is missing")
                }
                opened[shard] = try Checkpoint.openFile(shardURL)
            }
            guard let source = opened[shard], source.contains(name) else {
                throw ModelError.badIndex(file: url.path, reason: "tensor '\(name)' is not in its shard \(shard)")
            }
            shardOf[name] = source
        }
        self.shardOf = shardOf
        names = shardOf.keys.sorted()
        shardURLs = opened.keys.sorted().map { folder.appendingPathComponent($0) }
    }

    public func contains(_ name: String) -> Bool { shardOf[name] != nil }

    private func shard(_ name: String) throws -> any TensorSource {
        guard let source = shardOf[name] else { throw ModelError.missingTensor(file: path, tensor: name) }
        return source
    }

    public func shape(of name: String) throws -> [Int] { try shard(name).shape(of: name) }
    public func dtype(of name: String) throws -> String { try shard(name).dtype(of: name) }
    public func floatTensor(_ name: String) throws -> Tensor { try shard(name).floatTensor(name) }
}
