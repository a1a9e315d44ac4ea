/// A span of characters (Unicode scalars, as Python counts `str` indices) of the original text.
public struct TextSpan: Sendable, Hashable {
    /// The first character.
    public var start: Int
    /// One past the last character.
    public var end: Int

    /// A span `start..<end`; `(0, 0)` marks special and padding tokens.
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// The model inputs of one text or text pair.
public struct Encoding: Sendable, Equatable {
    /// Token ids, `[CLS]` and `[SEP]` included, then padding.
    public var ids: [Int32]
    /// 0 for the first text (and its `[CLS]`, `[SEP]`), 1 for the second; 0 for padding.
    public var typeIds: [Int32]
    /// 1 for tokens, 0 for padding.
    public var attentionMask: [Int32]
    /// Where each token comes from in its text; `(0, 0)` for special and padding tokens.
    public var offsets: [TextSpan]

    /// An encoding from its four parallel arrays.
    public init(ids: [Int32], typeIds: [Int32], attentionMask: [Int32], offsets: [TextSpan]) {
        self.ids = ids
        self.typeIds = typeIds
        self.attentionMask = attentionMask
        self.offsets = offsets
    }

    /// The number of tokens, padding included.
    public var count: Int { ids.count }

    /// Appends padding tokens up to `length`.
    mutating func pad(to length: Int, id: Int32) {
        let missing = length - ids.count
        guard missing > 0 else { return }
        ids.append(contentsOf: repeatElement(id, count: missing))
        typeIds.append(contentsOf: repeatElement(0, count: missing))
        attentionMask.append(contentsOf: repeatElement(0, count: missing))
        offsets.append(contentsOf: repeatElement(TextSpan(start: 0, end: 0), count: missing))
    }
}

/// How encodings are padded.
public enum Padding: Sendable, Equatable {
    /// No padding.
    case none
    /// To the longest encoding of the batch.
    case longest
    /// To a fixed number of tokens (longer encodings are left as they are).
    case length(Int)
}

/// Truncation, padding and special tokens of an encoding call.
public struct EncodingOptions: Sendable, Equatable {
    /// Truncate to this many tokens, special tokens included; pairs lose tokens longest-first.
    public var maxLength: Int?
    /// Padding of the results.
    public var padding: Padding
    /// Round the padded length up to a multiple of this.
    public var padToMultipleOf: Int?
    /// Add `[CLS]` and `[SEP]`.
    public var addSpecialTokens: Bool

    /// Options; the defaults neither truncate nor pad.
    public init(maxLength: Int? = nil, padding: Padding = .none, padToMultipleOf: Int? = nil, addSpecialTokens: Bool = true) {
        self.maxLength = maxLength
        self.padding = padding
        self.padToMultipleOf = padToMultipleOf
        self.addSpecialTokens = addSpecialTokens
    }

    /// The usual model input: truncate to `maxLength` and pad to it.
    public static func fixed(_ maxLength: Int) -> EncodingOptions {
        EncodingOptions(maxLength: maxLength, padding: .length(maxLength))
    }

    func validate() throws {
        if let maxLength, maxLength < 0 { throw TextError.invalidOption(name: "maxLength", value: maxLength) }
        if case let .length(length) = padding, length < 0 { throw TextError.invalidOption(name: "padding length", value: length) }
        if let multiple = padToMultipleOf, multiple <= 0 { throw TextError.invalidOption(name: "padToMultipleOf", value: multiple) }
    }

    /// `length` rounded up to `padToMultipleOf`.
    func rounded(_ length: Int) -> Int {
        guard let multiple = padToMultipleOf, length % multiple != 0 else { return length }
        return length + multiple - length % multiple
    }
}
