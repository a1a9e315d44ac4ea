import Foundation

/// A WordPiece vocabulary: tokens by id and fast lookup of word pieces.
public struct Vocabulary: Sendable {
    /// The token of each id (an empty string for ids no token uses).
    public let tokens: [String]
    /// The marker of pieces that continue a word (`##`).
    public let continuingSubwordPrefix: String
    /// Every token, by its UTF-8 bytes.
    let wholePieces: PieceTable
    /// Tokens that start with the continuation prefix, by the bytes that follow it.
    let continuationPieces: PieceTable

    /// Builds a vocabulary from `(token, id)` entries; a later entry replaces an earlier equal token.
    public init(entries: [(token: String, id: Int)], continuingSubwordPrefix: String = "##") {
        let count = (entries.map(\.id).max() ?? -1) + 1
        var tokens = [String](repeating: "", count: count)
        var whole = PieceTable(capacity: entries.count)
        var continuation = PieceTable(capacity: entries.count)
        let prefix = Array(continuingSubwordPrefix.utf8)
        for (token, id) in entries where id >= 0 {
            tokens[id] = token
            let bytes = Array(token.utf8)
            whole.insert(bytes, id: Int32(id))
            if !prefix.isEmpty, bytes.count > prefix.count, bytes.starts(with: prefix) {
                continuation.insert(bytes[prefix.count...], id: Int32(id))
            }
        }
        self.tokens = tokens
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.wholePieces = whole
        self.continuationPieces = continuation
    }

    /// Reads a `vocab.txt`: one token per line, the line number is the id; trailing whitespace is dropped.
    public static func load(vocabTxt url: URL, continuingSubwordPrefix: String = "##") throws -> Vocabulary {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TextError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        var entries: [(token: String, id: Int)] = []
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        entries.reserveCapacity(lines.count)
        for (id, line) in lines.enumerated() {
            var scalars = String(decoding: line, as: UTF8.self).unicodeScalars
            while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
            entries.append((String(scalars), id))
        }
        return Vocabulary(entries: entries, continuingSubwordPrefix: continuingSubwordPrefix)
    }

    /// The number of ids.
    public var count: Int { tokens.count }

    /// The id of `token`, if it is in the vocabulary.
    public func id(of token: String) -> Int32? {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty else { return nil }
        let id = bytes.withUnsafeBufferPointer { wholePieces.lookup($0) }
        return id >= 0 ? id : nil
    }

    /// The token of `id`, if there is one.
    public func token(of id: Int32) -> String? {
        tokens.indices.contains(Int(id)) ? tokens[Int(id)] : nil
    }
}
