/// Reads `model.vocab` of a `tokenizer.json` entry by entry.
///
/// `JSONSerialization` returns objects as dictionaries keyed by `String`, whose equality is canonical
/// equivalence: two tokens spelled with different scalars (precomposed `é` and `e` + U+0301) would
/// collapse into one. This scanner keeps every key as written.
struct VocabularyJSONScanner {
    private let bytes: [UInt8]
    private var position = 0
    private let file: String

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// The `(token, id)` entries of `model.vocab`, in file order.
    mutating func modelVocabulary() throws -> [(token: String, id: Int)] {
        var result: [(token: String, id: Int)]?
        try forEachMember { scanner, key in
            guard key == "model" else { return try scanner.skipValue() }
            try scanner.forEachMember { scanner, key in
                guard key == "vocab" else { return try scanner.skipValue() }
                var entries: [(token: String, id: Int)] = []
                try scanner.forEachMember { scanner, token in entries.append((token, try scanner.integer())) }
                result = entries
            }
        }
        guard let result else { throw failure("no model.vocab object") }
        return result
    }

    private func failure(_ reason: String) -> TextError {
        .invalidConfiguration(file: file, reason: "\(reason) (byte \(position))")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    /// Calls `body` with each key of the object at the current position; `body` must consume the value.
    private mutating func forEachMember(_ body: (inout VocabularyJSONScanner, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated object") }
            let separator = bytes[position]
            position += 1
            if separator == UInt8(ascii: "}") { return }
            guard separator == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
        }
    }

    private mutating func integer() throws -> Int {
        skipWhitespace()
        let start = position
        while position < bytes.count, bytes[position] == UInt8(ascii: "-") || (0x30...0x39).contains(bytes[position]) { position += 1 }
        guard let value = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else { throw failure("expected an integer id") }
        return value
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw failure("bad \\u escape")
        }
        position += 4
        return value
    }

    private mutating func string() throws -> String {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw failure("expected a string") }
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") {
                flushRaw()
                return String(scalars)
            }
            guard byte == UInt8(ascii: "\\") else {
                raw.append(byte)
                continue
            }
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "n"): raw.append(0x0A)
            case UInt8(ascii: "t"): raw.append(0x09)
            case UInt8(ascii: "r"): raw.append(0x0D)
            case UInt8(ascii: "b"): raw.append(0x08)
            case UInt8(ascii: "f"): raw.append(0x0C)
            case UInt8(ascii: "u"):
                flushRaw()
                var value = try hex4()
                if (0xD800..<0xDC00).contains(value), position + 6 <= bytes.count,
                   bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                    position += 2
                    let low = try hex4()
                    value = 0x10000 + ((value - 0xD800) << 10) + (low &- 0xDC00)
                }
                guard let scalar = Unicode.Scalar(value) else { throw failure("escape of a lone surrogate") }
                scalars.append(scalar)
            default: raw.append(escape)  // \" \\ \/
            }
        }
        throw failure("unterminated string")
    }

    /// Skips one value of any type.
    private mutating func skipValue() throws {
        skipWhitespace()
        guard position < bytes.count else { throw failure("expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            try forEachMember { scanner, _ in try scanner.skipValue() }
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                try skipValue()
                skipWhitespace()
                guard position < bytes.count else { throw failure("unterminated array") }
                let separator = bytes[position]
                position += 1
                if separator == UInt8(ascii: "]") { return }
                guard separator == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
            }
        default:
            // Numbers, true, false, null.
            while position < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) {
                position += 1
            }
        }
    }
}
