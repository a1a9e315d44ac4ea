/// Errors raised while loading a tokenizer or encoding text.
public enum TextError: Error, CustomStringConvertible, Equatable {
    /// A tokenizer folder has neither `tokenizer.json` nor `vocab.txt`.
    case missingVocabulary(directory: String)
    /// A file could not be read.
    case unreadable(file: String, reason: String)
    /// A JSON file is not what a BERT WordPiece tokenizer needs.
    case invalidConfiguration(file: String, reason: String)
    /// A token the tokenizer needs (`[UNK]`, `[CLS]`, ...) is not in the vocabulary.
    case missingToken(token: String, file: String)
    /// Pairs were given in a different number than texts.
    case pairCountMismatch(texts: Int, pairs: Int)
    /// An encoding option is out of range.
    case invalidOption(name: String, value: Int)

    public var description: String {
        switch self {
        case let .missingVocabulary(directory):
            return "\(directory): no tokenizer.json or vocab.txt"
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .invalidConfiguration(file, reason):
            return "\(file): \(reason)"
        case let .missingToken(token, file):
            return "\(file): the vocabulary has no \(token) token"
        case let .pairCountMismatch(texts, pairs):
            return "\(texts) texts but \(pairs) pair texts: give one pair text per text"
        case let .invalidOption(name, value):
            return "\(name) \(value) is out of range: it must be positive"
        }
    }
}
