import Foundation
import StrataCache
import StrataTensor

/// Minimal safetensors reading and writing for checkpoints: an 8-byte little-endian header length, a
/// JSON header `{name: {dtype, shape, data_offsets}}` padded with spaces to 8 bytes, then the raw
/// little-endian tensor bytes. Files written here load with `safetensors.torch.load_file` and
/// `module.load_state_dict`; reading accepts F32, F16, BF16 and I32 tensors (others are rejected).
public enum Checkpoint {
    static let dtypeNames: [DType: String] = [.f32: "F32", .f16: "F16", .bf16: "BF16", .i32: "I32"]
    /// Metadata key of the CRC-32 (8 hex digits) of the data section, which `decode` checks when present.
    public static let checksumKey = "strata.data_crc32"

    /// Encodes `tensors` (sorted by name, as the Python library does) with optional string metadata;
    /// `checksummed` adds the CRC-32 of the data section to the metadata.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], checksummed: Bool = false) throws -> Data {
        var header: [String: Any] = [:]
        let names = tensors.keys.sorted()
        var metadata = metadata
        if checksummed {
            var crc: UInt32 = 0
            for name in names { tensors[name]?.withUnsafeBytes { crc = Checksum.crc32($0, continuing: crc) } }
            metadata[checksumKey] = String(format: "%08x", crc)
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            guard let tensor = tensors[name], let dtype = dtypeNames[tensor.dtype] else { continue }
            header[name] = ["dtype": dtype, "shape": tensor.shape, "data_offsets": [offset, offset + tensor.byteCount]]
            offset += tensor.byteCount
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            guard let tensor = tensors[name] else { continue }
            tensor.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    /// Writes `tensors` to `url` atomically, with the data section's checksum in the metadata.
    public static func write(_ tensors: [String: Tensor], to url: URL, metadata: [String: String] = [:]) throws {
        do {
            try encode(tensors, metadata: metadata, checksummed: true).write(to: url, options: .atomic)
        } catch let error as TrainError {
            throw error
        } catch {
            throw TrainError.checkpoint(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads every tensor of a safetensors file.
    public static func read(contentsOf url: URL) throws -> [String: Tensor] {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TrainError.checkpoint(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, file: url.path)
    }

    /// Decodes the tensors of safetensors bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> [String: Tensor] {
        func fail(_ reason: String) -> TrainError { .checkpoint(file: file, reason: reason) }
        guard data.count >= 8 else { throw fail("too short for a safetensors header (\(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) exceeds the file size \(data.count)")
        }
        let start = data.startIndex + 8
        let headerData = data[start..<(start + Int(headerLength))]
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let body = start + Int(headerLength)
        let bodyLength = data.count - 8 - Int(headerLength)
        if let stored = (header["__metadata__"] as? [String: String])?[checksumKey] {
            let actual = data[body...].withUnsafeBytes { String(format: "%08x", Checksum.crc32($0)) }
            guard actual == stored else {
                throw fail("the data's CRC-32 is \(actual), the file records \(stored): the checkpoint is damaged")
            }
        }
        var tensors: [String: Tensor] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let entry = entry as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor '\(name)' has a malformed header entry") }
            guard let dtype = dtypeNames.first(where: { $0.value == dtypeName })?.key else {
                throw fail("tensor '\(name)' has unsupported dtype \(dtypeName)")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bodyLength,
                  offsets[1] - offsets[0] == Tensor.elementCount(shape) * dtype.byteSize else {
                throw fail("tensor '\(name)' has data offsets \(offsets) that do not fit shape \(shape) \(dtypeName) in \(bodyLength) bytes")
            }
            let bytes = data[(body + offsets[0])..<(body + offsets[1])]
            tensors[name] = try bytes.withUnsafeBytes { try Tensor(shape: shape, dtype: dtype, bytes: $0) }
        }
        return tensors
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
