import Foundation
import StrataTensor

/// A safetensors checkpoint, memory-mapped and validated when opened.
///
/// The format: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data after the header),
/// an optional `__metadata__` object of strings, then the data. Opening checks every entry: a known
/// dtype, non-negative dimensions, a byte range inside the file whose length matches shape × element
/// size, and ranges that neither overlap nor leave bytes unaccounted for (as the reference reader).
public final class SafetensorsFile: @unchecked Sendable {
    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name.
        public let name: String
        /// The safetensors dtype string (`F32`, `F16`, `BF16`, `I64`, ...).
        public let dtype: String
        /// Dimensions, outermost first.
        public let shape: [Int]
        /// Byte range within the data section.
        public let begin: Int, end: Int
    }

    /// The file's path, used in every error.
    public let path: String
    /// The entries by name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Element sizes of the dtypes the format defines.
    static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
        "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]
    /// Headers above this size are refused (the reference reader's limit).
    static let maximumHeaderLength = 100_000_000

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(file: try MappedFile(url: url), path: url.path)
    }

    init(file: MappedFile, path: String) throws {
        self.path = path
        self.file = file
        let parsed = try SafetensorsFile.parse(file.bytes, count: file.count, path: path)
        entries = parsed.entries
        metadata = parsed.metadata
        dataStart = parsed.dataStart
    }

    /// All tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Whether the file holds a tensor of this name.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The entry for `name`, or `ModelError.missingTensor`.
    public func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else { throw ModelError.missingTensor(file: path, tensor: name) }
        return entry
    }

    /// The tensor converted to `f32` (from any float, integer or bool dtype; not from F8 or U16-U64).
    public func floatTensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        guard let dtype = TorchDType(safetensors: entry.dtype) else {
            throw ModelError.unsupportedDType(file: path, tensor: name, dtype: entry.dtype)
        }
        var result = Tensor(zeros: entry.shape, dtype: .f32)
        let count = result.count
        let source = try payload(entry)
        result.withUnsafeMutableFloats { out in
            guard let out = out.baseAddress, let source else { return }
            if dtype == .float32 {
                UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            } else {
                let load = dtype.floatLoader(source)
                for i in 0..<count { out[i] = load(i) }
            }
        }
        return result
    }

    /// The tensor in its own dtype where `Tensor` has it (F32, F16, BF16, I32), I64 narrowed to `i32`
    /// (failing on values that do not fit).
    public func tensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        let source = try payload(entry)
        let bytes = UnsafeRawBufferPointer(start: source, count: entry.end - entry.begin)
        switch entry.dtype {
        case "F32": return try Tensor(shape: entry.shape, dtype: .f32, bytes: bytes)
        case "F16": return try Tensor(shape: entry.shape, dtype: .f16, bytes: bytes)
        case "BF16": return try Tensor(shape: entry.shape, dtype: .bf16, bytes: bytes)
        case "I32": return try Tensor(shape: entry.shape, dtype: .i32, bytes: bytes)
        case "I64":
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
        default:
            throw ModelError.unsupportedDType(file: path, tensor: name, dtype: entry.dtype)
        }
    }

    private func payload(_ entry: Entry) throws -> UnsafeRawPointer? {
        guard let base = file.bytes else { return nil }
        return base + dataStart + entry.begin
    }

    // MARK: Parsing

    struct Parsed {
        var entries: [String: Entry]
        var metadata: [String: String]
        var dataStart: Int
    }

    /// Parses and validates a safetensors image of `count` bytes.
    static func parse(_ bytes: UnsafeRawPointer?, count: Int, path: String) throws -> Parsed {
        guard let bytes, count >= 8 else {
            throw ModelError.truncated(file: path, reason: "\(count) bytes, shorter than the 8-byte header length")
        }
        let announced = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard announced <= UInt64(maximumHeaderLength) else {
            throw ModelError.badHeader(file: path, reason: "header length \(announced) exceeds \(maximumHeaderLength) bytes")
        }
        let headerLength = Int(announced)
        guard headerLength >= 2 else {
            throw ModelError.badHeader(file: path, reason: "header length \(headerLength) is too short for a JSON object")
        }
        guard headerLength <= count - 8 else {
            throw ModelError.truncated(file: path, reason: "header of \(headerLength) bytes announced, \(count - 8) bytes follow")
        }
        let json = Data(bytes: bytes + 8, count: headerLength)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw ModelError.badHeader(file: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let header = object as? [String: Any] else {
            throw ModelError.badHeader(file: path, reason: "the header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = count - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let strings = value as? [String: Any] else {
                    throw ModelError.badHeader(file: path, reason: "__metadata__ is not an object")
                }
                for (key, item) in strings {
                    guard let text = item as? String else {
                        throw ModelError.badHeader(file: path, reason: "__metadata__ value '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries[name] = try entry(name, value, dataSize: dataSize, path: path)
        }
        try checkCoverage(entries, dataSize: dataSize, path: path)
        return Parsed(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in array {
            guard let number = item as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 9.0e15 else { return nil }
            result.append(Int(double))
        }
        return result
    }

    private static func entry(_ name: String, _ value: Any, dataSize: Int, path: String) throws -> Entry {
        guard let fields = value as? [String: Any] else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "not an object")
        }
        guard let dtype = fields["dtype"] as? String else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "missing or non-string 'dtype'")
        }
        guard let shape = integers(fields["shape"]) else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "missing or non-integer 'shape'")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "negative dimension in shape \(shape)")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "'data_offsets' must be two integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw ModelError.badTensorEntry(file: path, tensor: name, reason: "data_offsets [\(begin), \(end)] are not an ascending range")
        }
        guard let size = elementSizes[dtype] else {
            throw ModelError.unknownDType(file: path, tensor: name, dtype: dtype)
        }
        var expected = size
        for dimension in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw ModelError.badTensorEntry(file: path, tensor: name, reason: "shape \(shape) is too large")
            }
            expected = product
        }
        guard expected == end - begin else {
            throw ModelError.byteCountMismatch(file: path, tensor: name, shape: shape, dtype: dtype,
                                               expected: expected, actual: end - begin)
        }
        guard end <= dataSize else {
            throw ModelError.outOfBounds(file: path, tensor: name, end: end, dataSize: dataSize)
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Ranges sorted by start must tile `0..<dataSize` exactly.
    private static func checkCoverage(_ entries: [String: Entry], dataSize: Int, path: String) throws {
        let sorted = entries.values.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        var previous: Entry?
        for entry in sorted {
            if entry.begin < position, let previous {
                throw ModelError.overlapping(file: path, tensor: entry.name, other: previous.name)
            }
            if entry.begin > position {
                throw ModelError.uncoveredBytes(file: path, offset: position, count: entry.begin - position)
            }
            previous = entry
            position = max(position, entry.end)
        }
        if position < dataSize {
            throw ModelError.uncoveredBytes(file: path, offset: position, count: dataSize - position)
        }
    }
}
