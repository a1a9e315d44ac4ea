import Foundation
import StrataTensor

/// A `torch.save` archive (`.pth`, `.pt`, `pytorch_model.bin`), read without PyTorch and without running
/// any of its code.
///
/// The archive is a zip of stored entries: `PREFIX/data.pkl` (the pickled state dict, read by
/// `RestrictedUnpickler`), `PREFIX/data/KEY` (one storage each) and `PREFIX/byteorder`. The file is
/// memory-mapped and tensors are read from their storages in place, following their strides and offsets.
/// The legacy (pre-1.6) format is read too: a sequence of pickles (magic number, protocol, system
/// information, the state dict, the storage keys) followed by each storage as an 8-byte element count
/// and its raw bytes (`LegacyTorchFile`).
/// A checkpoint whose top level holds no tensors but a `state_dict` or `model` dict of them (training
/// checkpoints) is read through that dict.
public final class TorchCheckpoint: TensorSource, @unchecked Sendable {
    public let path: String
    public let names: [String]
    /// Keeps the mapping that `storages` point into.
    private let file: MappedFile
    private let tensors: [String: TorchTensorRef]
    private let storages: [String: UnsafeRawBufferPointer]

    /// Opens and validates the archive at `url`: every tensor's view must lie inside its storage.
    public convenience init(url: URL) throws {
        try self.init(file: try ModelError.mapping(url), path: url.path)
    }

    init(file: MappedFile, path: String) throws {
        self.path = path
        self.file = file
        if TorchCheckpoint.isLegacy(file) {
            let legacy = try LegacyTorchFile(file: file, path: path)
            var tensors: [String: TorchTensorRef] = [:]
            for (name, tensor) in try TorchCheckpoint.stateDict(legacy.root, path: path) {
                guard let storage = legacy.storages[tensor.storage.key] else {
                    throw ModelError.badArchive(file: path, reason: "tensor '\(name)': storage \(tensor.storage.key) is not in the file")
                }
                try TorchCheckpoint.checkView(tensor, name: name, storageBytes: storage.count, path: path)
                tensors[name] = tensor
            }
            self.tensors = tensors
            storages = legacy.storages
            names = tensors.keys.sorted()
            return
        }
        let archive = try ZipArchive(file: file, path: path)
        let pickles = archive.entries.filter { $0.name.hasSuffix("data.pkl") && $0.name.split(separator: "/").count == 2 }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw ModelError.badArchive(file: path, reason: pickles.isEmpty
                ? "no PREFIX/data.pkl entry: not a torch.save archive"
                : "several data.pkl entries (\(pickles.map(\.name).joined(separator: ", ")))")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = archive.entry(prefix + "byteorder") {
            let text = String(decoding: try archive.bytes(of: order), as: UTF8.self)
            guard text == "little" else {
                throw ModelError.badArchive(file: path, reason: "byte order '\(text)' is not supported (only little-endian)")
            }
        }
        var unpickler = RestrictedUnpickler(bytes: try archive.bytes(of: pickle), path: path)
        let root = try unpickler.load()
        var tensors: [String: TorchTensorRef] = [:]
        var storages: [String: UnsafeRawBufferPointer] = [:]
        for (name, tensor) in try TorchCheckpoint.stateDict(root, path: path) {
            let key = tensor.storage.key
            if storages[key] == nil {
                guard let entry = archive.entry(prefix + "data/" + key) else {
                    throw ModelError.badArchive(file: path, reason: "tensor '\(name)': storage entry \(prefix)data/\(key) is missing")
                }
                storages[key] = try archive.bytes(of: entry)
            }
            try TorchCheckpoint.checkView(tensor, name: name, storageBytes: storages[key]?.count ?? 0, path: path)
            tensors[name] = tensor
        }
        self.tensors = tensors
        self.storages = storages
        names = tensors.keys.sorted()
    }

    /// PROTO 2, then LONG1 of 10 bytes: 0x1950a86a20f9469cfc6c, the legacy format's magic number.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    /// Whether the file starts as pre-1.6 `torch.save` files do: a protocol-2 pickle of the magic number
    /// 0x1950a86a20f9469cfc6c.
    static func isLegacy(_ file: MappedFile) -> Bool {
        let magic = legacyMagic
        guard let bytes = file.bytes, file.count >= magic.count else { return false }
        return magic.indices.allSatisfy { bytes.load(fromByteOffset: $0, as: UInt8.self) == magic[$0] }
    }

    /// Name → tensor pairs of the unpickled root.
    private static func stateDict(_ root: PickleValue, path: String) throws -> [(String, TorchTensorRef)] {
        guard case let .dict(dict) = root else {
            throw ModelError.badPickle(file: path, reason: "the pickled object is a \(root.kind), not a state dict")
        }
        let pairs: [(String, TorchTensorRef)] = dict.keys.compactMap { key in
            guard case let .tensor(tensor)? = dict.values[key] else { return nil }
            return (key, tensor)
        }
        if pairs.isEmpty {
            for wrapper in ["state_dict", "model"] {
                if let inner = dict.values[wrapper], case .dict = inner { return try stateDict(inner, path: path) }
            }
        }
        return pairs
    }

    /// The view's furthest element must lie inside the storage, and the storage inside its entry.
    private static func checkView(_ tensor: TorchTensorRef, name: String, storageBytes: Int, path: String) throws {
        let storage = tensor.storage
        let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.dtype.size)
        guard !overflow, needed <= storageBytes else {
            throw ModelError.badArchive(file: path, reason: "tensor '\(name)': storage \(storage.key) holds \(storageBytes) bytes, \(storage.count) \(storage.dtype.name) elements need \(overflow ? Int.max : needed)")
        }
        if tensor.shape.contains(0) { return }
        var last = tensor.offset
        for (size, stride) in zip(tensor.shape, tensor.strides) {
            let (step, stepOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, sumOverflow) = last.addingReportingOverflow(step)
            guard !stepOverflow, !sumOverflow else {
                throw ModelError.badArchive(file: path, reason: "tensor '\(name)': size \(tensor.shape) with stride \(tensor.strides) overflows")
            }
            last = sum
        }
        guard last < storage.count else {
            throw ModelError.badArchive(file: path, reason: "tensor '\(name)': offset \(tensor.offset), size \(tensor.shape), stride \(tensor.strides) reach element \(last) of a storage of \(storage.count)")
        }
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    private func tensor(_ name: String) throws -> TorchTensorRef {
        guard let tensor = tensors[name] else { throw ModelError.missingTensor(file: path, tensor: name) }
        return tensor
    }

    public func shape(of name: String) throws -> [Int] { try tensor(name).shape }

    public func dtype(of name: String) throws -> String { try tensor(name).storage.dtype.name }

    /// The tensor gathered from its storage through its strides and converted to `f32`.
    public func floatTensor(_ name: String) throws -> Tensor {
        let view = try tensor(name)
        guard let storage = storages[view.storage.key]?.baseAddress else {
            return Tensor(zeros: view.shape, dtype: .f32)
        }
        var result = Tensor(zeros: view.shape, dtype: .f32)
        let convert = view.storage.dtype.floatLoader(storage)
        // Dimensions of size 1 may carry any stride.
        let contiguous = zip(view.shape, zip(view.strides, result.strides)).allSatisfy { $0 == 1 || $1.0 == $1.1 }
        let count = result.count
        result.withUnsafeMutableFloats { out in
            guard let out = out.baseAddress, count > 0 else { return }
            if contiguous, view.storage.dtype == .float32 {
                UnsafeMutableRawPointer(out).copyMemory(from: storage + 4 * view.offset, byteCount: 4 * count)
            } else if contiguous {
                for i in 0..<count { out[i] = convert(view.offset + i) }
            } else {
                TorchCheckpoint.gather(view, into: out, convert)
            }
        }
        return result
    }

    /// Strided copy: the innermost dimension in a loop, the outer ones by an odometer over the indices.
    private static func gather(_ view: TorchTensorRef, into out: UnsafeMutablePointer<Float>, _ convert: (Int) -> Float) {
        let rank = view.shape.count
        guard rank > 0 else {
            out[0] = convert(view.offset)
            return
        }
        let inner = view.shape[rank - 1], innerStride = view.strides[rank - 1]
        let rows = view.shape.dropLast().reduce(1, *)
        var index = [Int](repeating: 0, count: rank - 1)
        var base = view.offset
        for row in 0..<rows {
            let target = out + row * inner
            for j in 0..<inner { target[j] = convert(base + j * innerStride) }
            var dimension = rank - 2
            while dimension >= 0 {
                index[dimension] += 1
                base += view.strides[dimension]
                if index[dimension] < view.shape[dimension] { break }
                base -= index[dimension] * view.strides[dimension]
                index[dimension] = 0
                dimension -= 1
            }
        }
    }
}
