import Dispatch
import Foundation

/// A BERT WordPiece tokenizer that encodes text id for id as Hugging Face `tokenizers` does
/// (`BertNormalizer`, `BertPreTokenizer`, `WordPiece`, BERT post-processing), offsets included.
///
/// Immutable and `Sendable`: one instance serves any number of threads.
public final class BertTokenizer: Sendable {
    /// The vocabulary.
    public let vocabulary: Vocabulary
    /// Normalization, special tokens and limits.
    public let configuration: TokenizerConfiguration
    /// Id of `[UNK]`.
    public let unknownId: Int32
    /// Id of `[CLS]`.
    public let classifierId: Int32
    /// Id of `[SEP]`.
    public let separatorId: Int32
    /// Id of `[PAD]`.
    public let paddingId: Int32

    /// Added tokens as scalars with their ids, longest first.
    let addedTokens: [(scalars: [UInt32], id: Int32)]
    /// The first scalar of each added token.
    let addedFirstScalars: [UInt32]

    /// A tokenizer from a vocabulary and a configuration; `source` names them in errors.
    public init(vocabulary: Vocabulary, configuration: TokenizerConfiguration = TokenizerConfiguration(), source: String = "vocabulary") throws {
        func id(_ token: String) throws -> Int32 {
            guard let id = vocabulary.id(of: token) else { throw TextError.missingToken(token: token, file: source) }
            return id
        }
        self.vocabulary = vocabulary
        self.configuration = configuration
        unknownId = try id(configuration.unknownToken)
        classifierId = try id(configuration.classifierToken)
        separatorId = try id(configuration.separatorToken)
        paddingId = try id(configuration.paddingToken)
        var added: [(scalars: [UInt32], id: Int32)] = []
        for token in configuration.addedTokens {
            let scalars = token.unicodeScalars.map(\.value)
            if !scalars.isEmpty, let id = vocabulary.id(of: token) { added.append((scalars, id)) }
        }
        added.sort { $0.scalars.count > $1.scalars.count }
        addedTokens = added
        addedFirstScalars = Array(Set(added.map { $0.scalars[0] })).sorted()
    }

    /// Encodes one text, or a pair of texts.
    public func encode(_ text: String, pair: String? = nil, options: EncodingOptions = EncodingOptions()) throws -> Encoding {
        try options.validate()
        var workspace = Workspace()
        var encoding = encode(text, pair: pair, options: options, workspace: &workspace)
        switch options.padding {
        case .none: break
        case .longest: encoding.pad(to: options.rounded(encoding.count), id: paddingId)
        case let .length(length): encoding.pad(to: options.rounded(length), id: paddingId)
        }
        return encoding
    }

    /// Encodes texts (and their pair texts) on `threads` threads; the result does not depend on the thread count.
    public func encodeBatch(
        _ texts: [String], pairs: [String]? = nil, options: EncodingOptions = EncodingOptions(),
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [Encoding] {
        try options.validate()
        if let pairs, pairs.count != texts.count { throw TextError.pairCountMismatch(texts: texts.count, pairs: pairs.count) }
        var results = [Encoding](repeating: Encoding(ids: [], typeIds: [], attentionMask: [], offsets: []), count: texts.count)
        let chunkCount = max(1, min(threads, texts.count / 64))
        results.withUnsafeMutableBufferPointer { output in
            let output = UnsafeSendableBuffer(buffer: output)
            let work = { (chunk: Int) in
                var workspace = Workspace()
                let range = chunk * texts.count / chunkCount..<(chunk + 1) * texts.count / chunkCount
                for index in range {
                    output.buffer[index] = self.encode(texts[index], pair: pairs?[index], options: options, workspace: &workspace)
                }
            }
            if chunkCount == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunkCount, execute: work) }
        }
        let target: Int
        switch options.padding {
        case .none: return results
        case .longest: target = options.rounded(results.map(\.count).max() ?? 0)
        case let .length(length): target = options.rounded(length)
        }
        for index in results.indices { results[index].pad(to: target, id: paddingId) }
        return results
    }

    /// Encodes without padding, reusing `workspace`.
    func encode(_ text: String, pair: String?, options: EncodingOptions, workspace: inout Workspace) -> Encoding {
        // The piece buffers are moved out of the workspace while it is in use, and back to keep their capacity.
        var first = Pieces(), second = Pieces()
        swap(&first, &workspace.first)
        swap(&second, &workspace.second)
        defer {
            swap(&first, &workspace.first)
            swap(&second, &workspace.second)
        }
        first.removeAll()
        second.removeAll()
        appendPieces(of: text, to: &first, workspace: &workspace)
        if let pair { appendPieces(of: pair, to: &second, workspace: &workspace) }
        return assemble(first, pair == nil ? nil : second, options: options)
    }

    /// Truncates (longest first for pairs, as `tokenizers` does) and adds the special tokens.
    func assemble(_ first: Pieces, _ second: Pieces?, options: EncodingOptions) -> Encoding {
        var n1 = first.count
        var n2 = second?.count ?? 0
        let special = options.addSpecialTokens
        if let maxLength = options.maxLength {
            // `tokenizers` subtracts the special tokens in unsigned arithmetic: a limit below them wraps
            // around and disables truncation.
            let limit = maxLength - (special ? (second == nil ? 2 : 3) : 0)
            if limit == 0 {
                n1 = 0
                n2 = 0
            } else if limit > 0 && n1 + n2 > limit {
                if second == nil {
                    n1 = limit
                } else {
                    (n1, n2) = Self.longestFirst(n1, n2, limit: limit)
                }
            }
        }
        let total = n1 + n2 + (special ? (second == nil ? 2 : 3) : 0)
        var ids = [Int32](), typeIds = [Int32](), offsets = [TextSpan]()
        ids.reserveCapacity(total)
        typeIds.reserveCapacity(total)
        offsets.reserveCapacity(total)
        func add(_ id: Int32, _ type: Int32, _ start: Int32, _ end: Int32) {
            ids.append(id)
            typeIds.append(type)
            offsets.append(TextSpan(start: Int(start), end: Int(end)))
        }
        if special { add(classifierId, 0, 0, 0) }
        for i in 0..<n1 { add(first.ids[i], 0, first.starts[i], first.ends[i]) }
        if special { add(separatorId, 0, 0, 0) }
        if let second {
            for i in 0..<n2 { add(second.ids[i], 1, second.starts[i], second.ends[i]) }
            if special { add(separatorId, 1, 0, 0) }
        }
        return Encoding(ids: ids, typeIds: typeIds, attentionMask: [Int32](repeating: 1, count: ids.count), offsets: offsets)
    }

    /// The lengths two sequences keep under `limit`, longest first, as `tokenizers` computes them.
    static func longestFirst(_ length1: Int, _ length2: Int, limit: Int) -> (Int, Int) {
        let swapped = length1 > length2
        var n1 = min(length1, length2)
        var n2 = max(length1, length2)
        n2 = n1 > limit ? n1 : max(n1, limit - n1)
        if n1 + n2 > limit {
            n1 = limit / 2
            n2 = n1 + limit % 2
        }
        if swapped { swap(&n1, &n2) }
        return (min(n1, length1), min(n2, length2))
    }
}

/// A buffer written at distinct indices by `concurrentPerform` workers.
private struct UnsafeSendableBuffer<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
}
