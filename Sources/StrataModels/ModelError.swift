import Foundation

/// Everything that can go wrong loading or running an encoder; each case names the file and, where
/// there is one, the tensor, config key or pyramid level at fault.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// The file ends before the header or data it announces.
    case truncated(file: String, reason: String)
    /// The JSON header is malformed (not an object, bad length, not UTF-8 JSON).
    case badHeader(file: String, reason: String)
    /// One tensor's header entry is malformed (missing or wrongly typed `dtype`, `shape`, `data_offsets`).
    case badTensorEntry(file: String, tensor: String, reason: String)
    /// A tensor's dtype is not one this reader knows.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// A tensor's dtype is known but cannot be converted to what was asked.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The byte range of a tensor does not match its shape and dtype.
    case byteCountMismatch(file: String, tensor: String, shape: [Int], dtype: String, expected: Int, actual: Int)
    /// A tensor's byte range reaches past the end of the file.
    case outOfBounds(file: String, tensor: String, end: Int, dataSize: Int)
    /// Two tensors' byte ranges overlap.
    case overlapping(file: String, tensor: String, other: String)
    /// Bytes of the data section belong to no tensor (a gap between tensors or trailing bytes).
    case uncoveredBytes(file: String, offset: Int, count: Int)
    /// A tensor the model needs is not in the checkpoint.
    case missingTensor(file: String, tensor: String)
    /// A tensor has another shape than the model's config implies.
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    /// An integer tensor holds a value that does not fit the target type.
    case valueOutOfRange(file: String, tensor: String, index: Int)
    /// A weight tensor holds a NaN or an infinity (the first at flat `index`).
    case nonFiniteWeight(file: String, tensor: String, index: Int, value: String)
    /// `config.json` is missing a value or holds one this encoder cannot use.
    case badConfig(file: String, key: String, reason: String)
    /// The model name is not one the loader knows.
    case unknownModel(name: String, known: [String])
    /// A pyramid level names an output the encoder does not have, or a reduction it cannot apply.
    case unknownLevel(architecture: String, level: String, reason: String)
    /// A pyramid level's written form cannot be parsed.
    case badLevelSpec(text: String, reason: String)
    /// Encoder inputs have the wrong dtype or shape.
    case badInput(architecture: String, reason: String)
    /// A kernel failed (an internal shape error).
    case kernel(architecture: String, reason: String)
    /// A `torch.save` zip archive is malformed (central directory, entries, storages, tensor views).
    case badArchive(file: String, reason: String)
    /// The pickled state dict of a `torch.save` archive is malformed or uses what a state dict does not.
    case badPickle(file: String, reason: String)
    /// The pickle names a global outside the state-dict allowlist; nothing from it is run.
    case unsafePickle(file: String, global: String)
    /// A checkpoint folder holds none of the weights files the loader looks for.
    case noWeights(folder: String, looked: [String])
    /// A checkpoint name resolved in no cache; `searched` lists every place looked at.
    case checkpointNotFound(name: String, searched: [String])
    /// A sharded checkpoint's index (`*.index.json`) is malformed or names a missing shard or tensor.
    case badIndex(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read checkpoint: \(reason)"
        case let .nonFiniteWeight(file, tensor, index, value):
            return "\(file): tensor '\(tensor)' holds \(value) at element \(index): the checkpoint is damaged (weights must be finite)"
        case let .truncated(file, reason):
            return "\(file): truncated safetensors file: \(reason)"
        case let .badHeader(file, reason):
            return "\(file): bad safetensors header: \(reason)"
        case let .badTensorEntry(file, tensor, reason):
            return "\(file): tensor '\(tensor)': bad header entry: \(reason)"
        case let .unknownDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .unsupportedDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)': dtype \(dtype) is not supported here (F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL are)"
        case let .byteCountMismatch(file, tensor, shape, dtype, expected, actual):
            return "\(file): tensor '\(tensor)': shape \(shape) of \(dtype) needs \(expected) bytes, its data_offsets span \(actual)"
        case let .outOfBounds(file, tensor, end, dataSize):
            return "\(file): tensor '\(tensor)': data ends at byte \(end), past the \(dataSize) bytes of data in the file"
        case let .overlapping(file, tensor, other):
            return "\(file): tensor '\(tensor)': its bytes overlap those of '\(other)'"
        case let .uncoveredBytes(file, offset, count):
            return "\(file): \(count) data bytes at offset \(offset) belong to no tensor"
        case let .missingTensor(file, tensor):
            return "\(file): missing tensor '\(tensor)'"
        case let .shapeMismatch(file, tensor, expected, actual):
            return "\(file): tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case let .valueOutOfRange(file, tensor, index):
            return "\(file): tensor '\(tensor)': element \(index) does not fit in int32"
        case let .badConfig(file, key, reason):
            return "\(file): config '\(key)': \(reason)"
        case let .unknownModel(name, known):
            return "unknown model '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .unknownLevel(architecture, level, reason):
            return "\(architecture): level '\(level)': \(reason)"
        case let .badLevelSpec(text, reason):
            return "bad pyramid level '\(text)': \(reason)"
        case let .badInput(architecture, reason):
            return "\(architecture): bad input: \(reason)"
        case let .kernel(architecture, reason):
            return "\(architecture): \(reason)"
        case let .badArchive(file, reason):
            return "\(file): bad torch.save archive: \(reason)"
        case let .badPickle(file, reason):
            return "\(file): bad pickled state dict: \(reason)"
        case let .unsafePickle(file, global):
            return "\(file): refused: the pickle names '\(global)', which a state dict never needs (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage); nothing was run"
        case let .noWeights(folder, looked):
            return "\(folder): no weights file (looked for \(looked.joined(separator: ", ")))"
        case let .checkpointNotFound(name, searched):
            return "checkpoint '\(name)' not found (nothing is downloaded); looked in:\n" + searched.map { "  \($0)" }.joined(separator: "\n")
        case let .badIndex(file, reason):
            return "\(file): bad checkpoint index: \(reason)"
        }
    }
}
