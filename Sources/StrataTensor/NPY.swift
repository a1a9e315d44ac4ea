import Foundation

/// Reads and writes NumPy `.npy` files (format versions 1-3, C order, little-endian).
///
/// Supported element types: `<f4`, `<f2`, `<i4`, `<i8` (narrowed to `i32`, failing on overflow),
/// `<f8` (narrowed to `f32`), `|u1` and `|b1` (widened to `i32`). Written files are version 1.0.
public enum NPY {
    /// Errors from parsing or writing `.npy` data.
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case badMagic(file: String)
        case truncated(file: String, reason: String)
        case badHeader(file: String, reason: String)
        case unsupportedType(file: String, descr: String)
        case valueOutOfRange(file: String, index: Int)

        public var description: String {
            switch self {
            case let .badMagic(file): return "\(file): not a .npy file (bad magic bytes)"
            case let .truncated(file, reason): return "\(file): truncated .npy file (\(reason))"
            case let .badHeader(file, reason): return "\(file): bad .npy header: \(reason)"
            case let .unsupportedType(file, descr): return "\(file): unsupported .npy dtype '\(descr)'"
            case let .valueOutOfRange(file, index): return "\(file): element \(index) does not fit in int32"
            }
        }
    }

    /// Reads a `.npy` file into a tensor.
    public static func read(contentsOf url: URL) throws -> Tensor {
        let data = try Data(contentsOf: url)
        return try decode(data, name: url.path)
    }

    /// Parses `.npy` bytes; `name` is used in error messages.
    public static func decode(_ data: Data, name: String = "<data>") throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw Error.badMagic(file: name)
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw Error.truncated(file: name, reason: "header length") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        } else {
            throw Error.badHeader(file: name, reason: "format version \(major) is not supported")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw Error.truncated(file: name, reason: "header of \(headerLength) bytes")
        }
        guard let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8) else {
            throw Error.badHeader(file: name, reason: "header is not text")
        }
        let descr = try field("descr", in: header, file: name)
        let fortran = try field("fortran_order", in: header, file: name)
        guard fortran == "False" else { throw Error.badHeader(file: name, reason: "Fortran order is not supported") }
        let shape = try parseShape(try field("shape", in: header, file: name), file: name)
        let count = Tensor.elementCount(shape)
        let payload = bytes[(headerStart + headerLength)...]

        func need(_ itemSize: Int) throws {
            guard payload.count >= count * itemSize else {
                throw Error.truncated(file: name, reason: "\(count) elements of \(itemSize) bytes need \(count * itemSize), found \(payload.count)")
            }
        }
        let body = Array(payload)
        switch descr {
        case "<f4", "<f2", "<i4":
            let dtype: DType = descr == "<f4" ? .f32 : (descr == "<f2" ? .f16 : .i32)
            try need(dtype.byteSize)
            return try body.withUnsafeBytes {
                try Tensor(shape: shape, dtype: dtype, bytes: UnsafeRawBufferPointer(rebasing: $0[0..<count * dtype.byteSize]))
            }
        case "<f8":
            try need(8)
            let values = body.withUnsafeBytes { raw in
                (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) }
            }
            return try Tensor(shape: shape, floats: values)
        case "<i8":
            try need(8)
            var values = [Int32](repeating: 0, count: count)
            try body.withUnsafeBytes { raw in
                for i in 0..<count {
                    let v = raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
                    guard let narrowed = Int32(exactly: v) else { throw Error.valueOutOfRange(file: name, index: i) }
                    values[i] = narrowed
                }
            }
            return try Tensor(shape: shape, int32s: values)
        case "|u1", "|b1", "<u1":
            try need(1)
            return try Tensor(shape: shape, int32s: body[0..<count].map { Int32($0) })
        default:
            throw Error.unsupportedType(file: name, descr: descr)
        }
    }

    /// The `.npy` bytes of a tensor: `f32` as `<f4`, `f16` as `<f2`, `i32` as `<i4`, `bf16` widened to `<f4`.
    public static func encode(_ tensor: Tensor) -> Data {
        let source = tensor.dtype == .bf16 ? tensor.converted(to: .f32) : tensor
        let descr: String
        switch source.dtype {
        case .f32, .bf16: descr = "<f4"
        case .f16: descr = "<f2"
        case .i32: descr = "<i4"
        }
        return encode(shape: source.shape, descr: descr) { data in
            source.withUnsafeBytes { data.append(contentsOf: $0) }
        }
    }

    /// The `.npy` bytes of an unsigned 8-bit array, as `|u1`.
    public static func encodeUInt8(_ values: [UInt8], shape: [Int]) -> Data {
        encode(shape: shape, descr: "|u1") { $0.append(contentsOf: values) }
    }

    /// Writes a tensor as a `.npy` file.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try encode(tensor).write(to: url)
    }

    private static func encode(shape: [Int], descr: String, payload: (inout Data) -> Void) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad so that magic + version + length + header (with its newline) is a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        payload(&data)
        return data
    }

    private static func field(_ key: String, in header: String, file: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") else {
            throw Error.badHeader(file: file, reason: "missing '\(key)'")
        }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw Error.badHeader(file: file, reason: "unclosed shape") }
            return String(rest[...close])
        }
        if rest.first == "'" {
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: "'") else { throw Error.badHeader(file: file, reason: "unclosed '\(key)'") }
            return String(rest[..<close])
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    private static func parseShape(_ text: String, file: String) throws -> [Int] {
        let inner = text.dropFirst().dropLast()
        return try inner.split(separator: ",").compactMap { part -> Int? in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            guard let value = Int(trimmed), value >= 0 else {
                throw Error.badHeader(file: file, reason: "bad shape \(text)")
            }
            return value
        }
    }
}
