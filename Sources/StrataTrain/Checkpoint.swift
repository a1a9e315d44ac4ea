import Foundation
import StrataAutodiff
import StrataCache
import StrataTensor

/// Checkpoints in the safetensors format, through StrataTensor's one codec (`SafetensorsWriter`,
/// `SafetensorsReader`, with its full validation). Files written here load with
/// `safetensors.torch.load_file` and `module.load_state_dict`; reading accepts F32, F16, BF16 and I32
/// tensors (others are rejected). Written files carry the CRC-32 of their data section in the metadata,
/// which reading checks when present.
public enum Checkpoint {
    /// Metadata key of the CRC-32 (8 hex digits) of the data section, which `decode` checks when present.
    public static let checksumKey = "strata.data_crc32"

    /// Encodes `tensors` (sorted by name, as the Python library does) with optional string metadata;
    /// `checksummed` adds the CRC-32 of the data section to the metadata.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], checksummed: Bool = false) throws -> Data {
        let named = tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var metadata = metadata
        if checksummed {
            var crc: UInt32 = 0
            for (_, tensor) in named { tensor.withUnsafeBytes { crc = Checksum.crc32($0, continuing: crc) } }
            metadata[checksumKey] = String(format: "%08x", crc)
        }
        do {
            return try SafetensorsWriter.encode(named, metadata: metadata)
        } catch {
            throw TrainError.checkpoint(file: "<memory>", reason: "cannot encode: \(error)")
        }
    }

    /// Writes `tensors` to `url` atomically, with the data section's checksum in the metadata.
    public static func write(_ tensors: [String: Tensor], to url: URL, metadata: [String: String] = [:]) throws {
        let data = try encode(tensors, metadata: metadata, checksummed: true)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw TrainError.checkpoint(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads every tensor of a safetensors file.
    public static func read(contentsOf url: URL) throws -> [String: Tensor] {
        try tensors(of: reader(url))
    }

    /// Decodes the tensors of safetensors bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> [String: Tensor] {
        try tensors(of: converting(file) { try SafetensorsReader(data: data, path: file) })
    }

    /// The validated safetensors file at `url` (its metadata, entries and bytes).
    public static func reader(_ url: URL) throws -> SafetensorsReader {
        try converting(url.path) { try SafetensorsReader(url: url) }
    }

    /// Every tensor of `reader`, after checking the data section against its recorded CRC-32.
    static func tensors(of reader: SafetensorsReader) throws -> [String: Tensor] {
        if let stored = reader.metadata[checksumKey] {
            let actual = String(format: "%08x", Checksum.crc32(reader.data))
            guard actual == stored else {
                throw TrainError.checkpoint(file: reader.path, reason: "the data's CRC-32 is \(actual), the file records \(stored): the checkpoint is damaged")
            }
        }
        var tensors: [String: Tensor] = [:]
        for name in reader.names { tensors[name] = try converting(reader.path) { try reader.tensor(name) } }
        return tensors
    }

    /// Runs `body`, turning StrataTensor's reader errors into `TrainError.checkpoint` for `file`.
    static func converting<T>(_ file: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let TensorError.safetensors(_, fault) {
            throw TrainError.checkpoint(file: file, reason: fault.description)
        } catch let TensorError.unreadable(_, reason) {
            throw TrainError.checkpoint(file: file, reason: "cannot read: \(reason)")
        } catch let error as TensorError {
            throw TrainError.checkpoint(file: file, reason: error.description)
        }
    }
}

extension Module {
    /// Saves the parameters as safetensors under their `state_dict` names.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Checkpoint.write(stateDict, to: url, metadata: metadata)
    }

    /// Loads every parameter from a safetensors file written here or by `safetensors.torch.save_file`.
    public func load(contentsOf url: URL) throws {
        try load(stateDict: Checkpoint.read(contentsOf: url))
    }
}
