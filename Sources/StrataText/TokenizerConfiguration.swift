/// How text is normalized before it is split into words, as Hugging Face's `BertNormalizer` does it.
public struct NormalizerOptions: Sendable, Equatable {
    /// Drop NUL, U+FFFD and control/format characters; turn whitespace (tabs and newlines too) into spaces.
    public var cleanText: Bool
    /// Make every CJK ideograph a word of its own.
    public var splitChineseCharacters: Bool
    /// Decompose (NFD) and drop non-spacing marks; `nil` follows `lowercase`, as in Hugging Face.
    public var stripAccents: Bool?
    /// Lower-case every character (Unicode full mappings, one character at a time).
    public var lowercase: Bool

    /// The options of an uncased BERT checkpoint: everything on.
    public init(cleanText: Bool = true, splitChineseCharacters: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.splitChineseCharacters = splitChineseCharacters
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    /// Whether accents are stripped, after resolving `nil` to `lowercase`.
    public var stripsAccents: Bool { stripAccents ?? lowercase }
}

/// Everything about a BERT WordPiece tokenizer but its vocabulary.
public struct TokenizerConfiguration: Sendable, Equatable {
    /// Text normalization.
    public var normalizer: NormalizerOptions
    /// The token of words that cannot be split into vocabulary pieces.
    public var unknownToken: String
    /// The token that starts every encoding.
    public var classifierToken: String
    /// The token that ends each sequence.
    public var separatorToken: String
    /// The token that pads encodings.
    public var paddingToken: String
    /// Tokens matched verbatim in the raw text before normalization (the special tokens).
    public var addedTokens: [String]
    /// Words longer than this many characters (after normalization) become the unknown token.
    public var maxInputCharactersPerWord: Int
    /// The longest input the checkpoint was trained with, when its folder says so.
    public var modelMaxLength: Int?

    /// The configuration of `bert-base-uncased`.
    public init(
        normalizer: NormalizerOptions = NormalizerOptions(),
        unknownToken: String = "[UNK]",
        classifierToken: String = "[CLS]",
        separatorToken: String = "[SEP]",
        paddingToken: String = "[PAD]",
        addedTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        maxInputCharactersPerWord: Int = 100,
        modelMaxLength: Int? = nil
    ) {
        self.normalizer = normalizer
        self.unknownToken = unknownToken
        self.classifierToken = classifierToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.addedTokens = addedTokens
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        self.modelMaxLength = modelMaxLength
    }
}
