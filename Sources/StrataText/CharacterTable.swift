/// Per-scalar classification used by the normalizer and pre-tokenizer, built once from `UnicodeTables`.
///
/// Every Unicode scalar value has its flags in one table, so the hot path classifies a character with one load.
struct CharacterTable: Sendable {
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt16
        /// Dropped by text cleaning (control, format, private use, NUL, U+FFFD).
        static let removed = Flags(rawValue: 1 << 0)
        /// Becomes a space under text cleaning.
        static let cleanedToSpace = Flags(rawValue: 1 << 1)
        /// A CJK ideograph that becomes a word of its own.
        static let chinese = Flags(rawValue: 1 << 2)
        /// A non-spacing mark, dropped when accents are stripped.
        static let nonspacingMark = Flags(rawValue: 1 << 3)
        /// A word separator of the pre-tokenizer.
        static let separator = Flags(rawValue: 1 << 4)
        /// Punctuation: a word of its own.
        static let punctuation = Flags(rawValue: 1 << 5)
        /// Has a canonical decomposition.
        static let decomposes = Flags(rawValue: 1 << 6)
        /// Has a lower-case mapping other than itself.
        static let lowercases = Flags(rawValue: 1 << 7)
        /// Has a nonzero canonical combining class: canonical ordering may move it.
        static let combining = Flags(rawValue: 1 << 8)
    }

    /// The flags of every scalar value, 0...0x10FFFF.
    let flags: [UInt16]
    /// Full canonical decompositions (Hangul syllables are decomposed arithmetically).
    let decompositions: [UInt32: [UInt32]]
    /// Lower-case mappings that differ from the scalar itself.
    let lowercase: [UInt32: [UInt32]]
    /// Nonzero canonical combining classes.
    let combiningClasses: [UInt32: UInt8]

    /// The table built from the generated data.
    static let shared = CharacterTable()

    static let hangulFirst: UInt32 = 0xAC00
    static let hangulLast: UInt32 = 0xD7A3

    private init() {
        var flags = [UInt16](repeating: 0, count: 0x110000)
        func mark(_ ranges: String, _ flag: Flags) {
            for item in ranges.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let bounds = item.split(separator: "-").compactMap { UInt32($0, radix: 16) }
                guard let first = bounds.first, let last = bounds.last else { continue }
                for scalar in first...last { flags[Int(scalar)] |= flag.rawValue }
            }
        }
        mark(UnicodeTables.removedByCleaning, .removed)
        mark(UnicodeTables.whitespaceByCleaning, .cleanedToSpace)
        mark(UnicodeTables.chinese, .chinese)
        mark(UnicodeTables.nonspacingMarks, .nonspacingMark)
        mark(UnicodeTables.splitWhitespace, .separator)
        mark(UnicodeTables.punctuation, .punctuation)
        let decompositions = Self.mappings(UnicodeTables.decompositions)
        let lowercase = Self.mappings(UnicodeTables.lowercase)
        for scalar in decompositions.keys { flags[Int(scalar)] |= Flags.decomposes.rawValue }
        for scalar in Self.hangulFirst...Self.hangulLast { flags[Int(scalar)] |= Flags.decomposes.rawValue }
        for scalar in lowercase.keys { flags[Int(scalar)] |= Flags.lowercases.rawValue }
        var combiningClasses: [UInt32: UInt8] = [:]
        for (scalar, mapped) in Self.mappings(UnicodeTables.combiningClasses) {
            guard let value = mapped.first, value > 0, value < 256 else { continue }
            combiningClasses[scalar] = UInt8(value)
            flags[Int(scalar)] |= Flags.combining.rawValue
        }
        self.combiningClasses = combiningClasses
        self.flags = flags
        self.decompositions = decompositions
        self.lowercase = lowercase
    }

    private static func mappings(_ text: String) -> [UInt32: [UInt32]] {
        var result: [UInt32: [UInt32]] = [:]
        for item in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = item.split(separator: ":")
            guard parts.count == 2, let key = UInt32(parts[0], radix: 16) else { continue }
            result[key] = parts[1].split(separator: ".").compactMap { UInt32($0, radix: 16) }
        }
        return result
    }

    /// The flags of `scalar`.
    @inline(__always) func flags(of scalar: UInt32) -> Flags {
        Flags(rawValue: flags.withUnsafeBufferPointer { $0[Int(scalar)] })
    }

    /// The canonical combining class of `scalar` (0 for starters).
    @inline(__always) func combiningClass(of scalar: UInt32) -> UInt8 {
        flags(of: scalar).contains(.combining) ? combiningClasses[scalar] ?? 0 : 0
    }

    /// Appends the full canonical decomposition of `scalar` to `output`.
    func appendDecomposition(of scalar: UInt32, to output: inout [UInt32]) {
        if scalar >= Self.hangulFirst && scalar <= Self.hangulLast {
            let index = scalar - Self.hangulFirst
            output.append(0x1100 + index / 588)
            output.append(0x1161 + (index % 588) / 28)
            if index % 28 != 0 { output.append(0x11A7 + index % 28) }
        } else if let mapped = decompositions[scalar] {
            output.append(contentsOf: mapped)
        } else {
            output.append(scalar)
        }
    }
}
