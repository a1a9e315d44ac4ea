import Foundation
import StrataTensor

/// A safetensors checkpoint as models read it: StrataTensor's `SafetensorsReader` (memory-mapped and
/// validated when opened) with its faults as `ModelError`s, and the conversions a state dict needs
/// (any float, integer or bool dtype to `f32`; I64 narrowed to `i32`).
public final class SafetensorsFile: @unchecked Sendable {
    /// One tensor's header entry.
    public typealias Entry = SafetensorsReader.Entry

    /// The validated file.
    public let reader: SafetensorsReader

    /// The file's path, used in every error.
    public var path: String { reader.path }
    /// The entries by name.
    public var entries: [String: Entry] { reader.entries }
    /// The `__metadata__` strings.
    public var metadata: [String: String] { reader.metadata }

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(file: try ModelError.mapping(url), path: url.path)
    }

    init(file: MappedFile, path: String) throws {
        reader = try ModelError.converting(path: path) { try SafetensorsReader(file: file, path: path) }
    }

    /// All tensor names, sorted.
    public var names: [String] { reader.names }

    /// Whether the file holds a tensor of this name.
    public func contains(_ name: String) -> Bool { reader.contains(name) }

    /// The entry for `name`, or `ModelError.missingTensor`.
    public func entry(_ name: String) throws -> Entry {
        try ModelError.converting(path: path) { try reader.entry(name) }
    }

    /// The tensor converted to `f32` (from any float, integer or bool dtype; not from F8 or U16-U64).
    public func floatTensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        guard let dtype = StoredDType(rawValue: entry.dtype), dtype.convertsToFloat else {
            throw ModelError.unsupportedDType(file: path, tensor: name, dtype: entry.dtype)
        }
        var result = Tensor(zeros: entry.shape, dtype: .f32)
        let count = result.count
        let source = reader.bytes(of: entry)
        result.withUnsafeMutableFloats { out in
            guard let out = out.baseAddress, let source = source.baseAddress else { return }
            if dtype == .f32 {
                UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            } else if let load = dtype.floatLoader(source) {
                for i in 0..<count { out[i] = load(i) }
            }
        }
        return result
    }

    /// The tensor in its own dtype where `Tensor` has it (F32, F16, BF16, I32), I64 narrowed to `i32`
    /// (failing on values that do not fit).
    public func tensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        guard entry.dtype == "I64" else {
            return try ModelError.converting(path: path) { try reader.tensor(name) }
        }
        let bytes = reader.bytes(of: entry)
        let count = Tensor.elementCount(entry.shape)
        var values = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let value = bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
            guard let narrowed = Int32(exactly: value) else {
                throw ModelError.valueOutOfRange(file: path, tensor: name, index: i)
            }
            values[i] = narrowed
        }
        return try Tensor(shape: entry.shape, int32s: values)
    }
}

extension ModelError {
    /// Runs `body`, turning the `TensorError`s of StrataTensor's file readers into the `ModelError` of
    /// the same fault; `path` names the file for the other kernel errors.
    static func converting<T>(path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TensorError {
            throw ModelError(error, path: path)
        }
    }

    /// Maps `url` read-only, failing with `ModelError.unreadable`.
    static func mapping(_ url: URL) throws -> MappedFile {
        try converting(path: url.path) { try MappedFile(url: url) }
    }

    /// The model error of a tensor-module error.
    init(_ error: TensorError, path: String) {
        switch error {
        case let .unreadable(file, reason):
            self = .unreadable(file: file, reason: reason)
        case let .safetensors(file, fault):
            switch fault {
            case let .truncated(reason): self = .truncated(file: file, reason: reason)
            case let .badHeader(reason): self = .badHeader(file: file, reason: reason)
            case let .badTensorEntry(tensor, reason): self = .badTensorEntry(file: file, tensor: tensor, reason: reason)
            case let .unknownDType(tensor, dtype): self = .unknownDType(file: file, tensor: tensor, dtype: dtype)
            case let .unsupportedDType(tensor, dtype): self = .unsupportedDType(file: file, tensor: tensor, dtype: dtype)
            case let .byteCountMismatch(tensor, shape, dtype, expected, actual):
                self = .byteCountMismatch(file: file, tensor: tensor, shape: shape, dtype: dtype, expected: expected, actual: actual)
            case let .outOfBounds(tensor, end, dataSize): self = .outOfBounds(file: file, tensor: tensor, end: end, dataSize: dataSize)
            case let .overlapping(tensor, other): self = .overlapping(file: file, tensor: tensor, other: other)
            case let .uncoveredBytes(offset, count): self = .uncoveredBytes(file: file, offset: offset, count: count)
            case let .missingTensor(tensor): self = .missingTensor(file: file, tensor: tensor)
            }
        default:
            self = .unreadable(file: path, reason: error.description)
        }
    }
}
