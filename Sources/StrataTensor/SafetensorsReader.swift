import Foundation

/// Reads the safetensors format over a memory-mapped file (or bytes in memory), validated when opened.
///
/// The format: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data after the header),
/// an optional `__metadata__` object of strings, then the data. Opening checks every entry: a dtype the
/// format defines, non-negative dimensions, a byte range inside the file whose length matches shape ×
/// element size, and ranges that neither overlap nor leave bytes unaccounted for (as the reference
/// reader). Every failure is a `TensorError.safetensors` naming the file and, where there is one, the tensor.
public final class SafetensorsReader: @unchecked Sendable {
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

    /// The file's path (or the name given for bytes in memory), used in every error.
    public let path: String
    /// The entries by name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// The data section: every tensor's bytes, back to back.
    public let data: UnsafeRawBufferPointer
    /// Keeps the mapping or the copied bytes that `data` points into.
    private let owner: AnyObject

    /// Headers above this size are refused (the reference reader's limit).
    public static let maximumHeaderLength = 100_000_000

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        try self.init(file: try MappedFile(url: url), path: url.path)
    }

    /// Validates a file already mapped; `path` names it in errors.
    public convenience init(file: MappedFile, path: String) throws {
        try self.init(bytes: file.buffer, owner: file, path: path)
    }

    /// Validates safetensors bytes held in memory (copied); `path` names them in errors.
    public convenience init(data: Data, path: String = "<memory>") throws {
        let copy = OwnedBytes(data)
        try self.init(bytes: copy.buffer, owner: copy, path: path)
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject, path: String) throws {
        self.path = path
        self.owner = owner
        let parsed = try SafetensorsReader.parse(bytes, path: path)
        entries = parsed.entries
        metadata = parsed.metadata
        data = UnsafeRawBufferPointer(rebasing: bytes[parsed.dataStart...])
    }

    /// All tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Whether the file holds a tensor of this name.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The entry for `name`, or a `missingTensor` fault.
    public func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else { throw TensorError.safetensors(file: path, fault: .missingTensor(tensor: name)) }
        return entry
    }

    /// The bytes of `entry`, valid while the reader lives.
    public func bytes(of entry: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: data[entry.begin..<entry.end])
    }

    /// The tensor in its own dtype, which must be one `Tensor` holds (F32, F16, BF16, I32).
    public func tensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        guard let dtype = DType(safetensorsName: entry.dtype) else {
            throw TensorError.safetensors(file: path, fault: .unsupportedDType(tensor: name, dtype: entry.dtype))
        }
        return try Tensor(shape: entry.shape, dtype: dtype, bytes: bytes(of: entry))
    }

    // MARK: Parsing

    private struct Parsed {
        var entries: [String: Entry]
        var metadata: [String: String]
        var dataStart: Int
    }

    /// Parses and validates a whole safetensors image.
    private static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        func fail(_ fault: SafetensorsFault) -> TensorError { .safetensors(file: path, fault: fault) }
        let count = bytes.count
        guard count >= 8 else { throw fail(.truncated(reason: "\(count) bytes, shorter than the 8-byte header length")) }
        let announced = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard announced <= UInt64(maximumHeaderLength) else {
            throw fail(.badHeader(reason: "header length \(announced) exceeds \(maximumHeaderLength) bytes"))
        }
        let headerLength = Int(announced)
        guard headerLength >= 2 else { throw fail(.badHeader(reason: "header length \(headerLength) is too short for a JSON object")) }
        guard headerLength <= count - 8 else {
            throw fail(.truncated(reason: "header of \(headerLength) bytes announced, \(count - 8) bytes follow"))
        }
        let json = Data(bytes[8..<(8 + headerLength)])
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw fail(.badHeader(reason: "not valid JSON (\(error.localizedDescription))"))
        }
        guard let header = object as? [String: Any] else { throw fail(.badHeader(reason: "the header is not a JSON object")) }
        let dataStart = 8 + headerLength
        let dataSize = count - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let strings = value as? [String: Any] else { throw fail(.badHeader(reason: "__metadata__ is not an object")) }
                for (key, item) in strings {
                    guard let text = item as? String else {
                        throw fail(.badHeader(reason: "__metadata__ value '\(key)' is not a string"))
                    }
                    metadata[key] = text
                }
                continue
            }
            do {
                entries[name] = try entry(name, value, dataSize: dataSize)
            } catch {
                throw fail(error)
            }
        }
        if let fault = coverageFault(entries, dataSize: dataSize) { throw fail(fault) }
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

    private static func entry(_ name: String, _ value: Any, dataSize: Int) throws(SafetensorsFault) -> Entry {
        guard let fields = value as? [String: Any] else { throw .badTensorEntry(tensor: name, reason: "not an object") }
        guard let dtype = fields["dtype"] as? String else {
            throw .badTensorEntry(tensor: name, reason: "missing or non-string 'dtype'")
        }
        guard let shape = integers(fields["shape"]) else {
            throw .badTensorEntry(tensor: name, reason: "missing or non-integer 'shape'")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .badTensorEntry(tensor: name, reason: "negative dimension in shape \(shape)")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw .badTensorEntry(tensor: name, reason: "'data_offsets' must be two integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw .badTensorEntry(tensor: name, reason: "data_offsets [\(begin), \(end)] are not an ascending range")
        }
        guard let size = StoredDType(rawValue: dtype)?.size else { throw .unknownDType(tensor: name, dtype: dtype) }
        var expected = size
        for dimension in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .badTensorEntry(tensor: name, reason: "shape \(shape) is too large") }
            expected = product
        }
        guard expected == end - begin else {
            throw .byteCountMismatch(tensor: name, shape: shape, dtype: dtype, expected: expected, actual: end - begin)
        }
        guard end <= dataSize else { throw .outOfBounds(tensor: name, end: end, dataSize: dataSize) }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Ranges sorted by start must tile `0..<dataSize` exactly; the first fault if they do not.
    private static func coverageFault(_ entries: [String: Entry], dataSize: Int) -> SafetensorsFault? {
        let sorted = entries.values.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        var previous: Entry?
        for entry in sorted {
            if entry.begin < position, let previous { return .overlapping(tensor: entry.name, other: previous.name) }
            if entry.begin > position { return .uncoveredBytes(offset: position, count: entry.begin - position) }
            previous = entry
            position = max(position, entry.end)
        }
        return position < dataSize ? .uncoveredBytes(offset: position, count: dataSize - position) : nil
    }
}

extension SafetensorsFault: Error {}

/// A private copy of bytes that a reader points into.
private final class OwnedBytes {
    let buffer: UnsafeRawBufferPointer

    init(_ data: Data) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 16)
        data.withUnsafeBytes { copy.copyMemory(from: $0) }
        buffer = UnsafeRawBufferPointer(copy)
    }

    deinit { buffer.deallocate() }
}
