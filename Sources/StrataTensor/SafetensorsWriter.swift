import Foundation

/// Writes the safetensors format: an 8-byte little-endian header length, a JSON header (sorted keys,
/// padded with spaces to a multiple of 8) naming each tensor's dtype, shape and byte range, then the
/// tensors' bytes back to back in the order given. `SafetensorsReader` reads it back.
public enum SafetensorsWriter {
    /// One named array of raw little-endian bytes.
    public struct Blob: Sendable {
        /// Tensor name.
        public var name: String
        /// safetensors dtype: `F32`, `F16`, `BF16`, `I32`, `I64`, `U64`, `U8`, ...
        public var dtype: String
        /// Shape; the product times the element size must equal `bytes.count`.
        public var shape: [Int]
        /// The elements' bytes.
        public var bytes: Data

        /// Creates a blob.
        public init(name: String, dtype: String, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// A blob holding a tensor, under its own dtype.
        public init(name: String, tensor: Tensor) {
            self.name = name
            dtype = tensor.dtype.safetensorsName
            shape = tensor.shape
            bytes = tensor.withUnsafeBytes { Data($0) }
        }
    }

    /// The file's bytes. Names must be unique and must not be `__metadata__`.
    public static func encode(_ blobs: [Blob], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for blob in blobs {
            guard blob.name != "__metadata__", header[blob.name] == nil else {
                throw TensorError.invalidArgument(operation: "safetensors", reason: "duplicate or reserved tensor name '\(blob.name)'")
            }
            header[blob.name] = ["dtype": blob.dtype, "shape": blob.shape, "data_offsets": [offset, offset + blob.bytes.count]]
            offset += blob.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for blob in blobs { data.append(blob.bytes) }
        return data
    }

    /// The file's bytes for named tensors, in the order given.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors.map { Blob(name: $0.0, tensor: $0.1) }, metadata: metadata)
    }

    /// Writes named tensors to `url` atomically.
    public static func write(_ tensors: [(String, Tensor)], to url: URL, metadata: [String: String] = [:]) throws {
        try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
    }
}
