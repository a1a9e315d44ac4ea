extension BertTokenizer {
    /// Normalizes `text`, splits it into words and words into pieces, appending them to `pieces`.
    ///
    /// One pass over the scalars does what `BertNormalizer` and `BertPreTokenizer` do to the whole
    /// string: every normalization step maps one character to characters aligned with it, so the
    /// words can be cut as the normalized characters come. The one step with context, canonical
    /// ordering of combining marks under accent stripping, holds a run of marks until a starter ends it.
    func appendPieces(of text: String, to pieces: inout Pieces, workspace w: inout Workspace) {
        w.scalars.removeAll(keepingCapacity: true)
        for scalar in text.unicodeScalars { w.scalars.append(scalar.value) }
        w.clearWord()
        let table = CharacterTable.shared
        let lowercase = configuration.normalizer.lowercase
        let count = w.scalars.count
        var index = 0
        while index < count {
            let scalar = w.scalars[index]
            if !addedFirstScalars.isEmpty, addedFirstScalars.contains(scalar), let (id, length) = addedToken(at: index, in: w.scalars) {
                endWord(to: &pieces, workspace: &w)
                pieces.append(id, start: Int32(index), end: Int32(index + length))
                index += length
                continue
            }
            let flags = table.flags(of: scalar)
            if flags.isEmpty {
                if !w.marks.isEmpty { flushMarks(table: table, to: &pieces, workspace: &w) }
                w.append(scalar, origin: index)
            } else if lowercase && flags == .lowercases && scalar &- 0x41 < 26 {
                if !w.marks.isEmpty { flushMarks(table: table, to: &pieces, workspace: &w) }
                w.append(scalar + 0x20, origin: index)
            } else {
                normalize(scalar, flags: flags, origin: Int32(index), table: table, to: &pieces, workspace: &w)
            }
            index += 1
        }
        endWord(to: &pieces, workspace: &w)
    }

    /// The id and length of the longest added token at `index`, if one starts there.
    private func addedToken(at index: Int, in scalars: [UInt32]) -> (Int32, Int)? {
        for token in addedTokens where index + token.scalars.count <= scalars.count {
            var matches = true
            for (offset, scalar) in token.scalars.enumerated() where scalars[index + offset] != scalar {
                matches = false
                break
            }
            if matches { return (token.id, token.scalars.count) }
        }
        return nil
    }

    /// Ends the current word, marks included.
    private func endWord(to pieces: inout Pieces, workspace w: inout Workspace) {
        if !w.marks.isEmpty { flushMarks(table: CharacterTable.shared, to: &pieces, workspace: &w) }
        flushWord(to: &pieces, workspace: &w)
    }

    /// The slow path: a character that cleaning, Chinese splitting, accent stripping, lower-casing or
    /// the pre-tokenizer treats specially.
    private func normalize(
        _ scalar: UInt32, flags: CharacterTable.Flags, origin: Int32, table: CharacterTable,
        to pieces: inout Pieces, workspace w: inout Workspace
    ) {
        let options = configuration.normalizer
        if options.cleanText {
            if flags.contains(.removed) { return }
            if flags.contains(.cleanedToSpace) {
                endWord(to: &pieces, workspace: &w)
                return
            }
        }
        let chinese = options.splitChineseCharacters && flags.contains(.chinese)
        if chinese { endWord(to: &pieces, workspace: &w) }
        if options.stripsAccents {
            // NFD: starters go out at once, marks wait for the run to be ordered.
            w.mappedNext.removeAll(keepingCapacity: true)
            if flags.contains(.decomposes) {
                table.appendDecomposition(of: scalar, to: &w.mappedNext)
            } else {
                w.mappedNext.append(scalar)
            }
            for (position, character) in w.mappedNext.enumerated() {
                let combiningClass = table.combiningClass(of: character)
                if combiningClass == 0 {
                    if !w.marks.isEmpty { flushMarks(table: table, to: &pieces, workspace: &w) }
                    w.lastOrigin = origin
                    finish(character, origin: Int(origin), table: table, to: &pieces, workspace: &w)
                } else {
                    if position == 0 { w.markOrigins.append(origin) }
                    w.marks.append(PendingMark(combiningClass: combiningClass, scalar: character, first: position == 0))
                }
            }
        } else {
            finish(scalar, origin: Int(origin), table: table, to: &pieces, workspace: &w)
        }
        if chinese { endWord(to: &pieces, workspace: &w) }
    }

    /// Orders the pending marks by combining class (stable) and sends them on. As in `tokenizers`,
    /// the alignments stay in text order: the n-th mark that begins a decomposition takes the place
    /// of the n-th original character of the run, and the other marks that of the mark before them.
    private func flushMarks(table: CharacterTable, to pieces: inout Pieces, workspace w: inout Workspace) {
        var marks = w.marks
        w.marks.removeAll(keepingCapacity: true)
        defer {
            marks.removeAll(keepingCapacity: true)
            w.marks = marks
            w.markOrigins.removeAll(keepingCapacity: true)
        }
        for i in marks.indices.dropFirst() {
            var j = i
            while j > 0 && marks[j - 1].combiningClass > marks[j].combiningClass {
                marks.swapAt(j - 1, j)
                j -= 1
            }
        }
        var next = 0
        for mark in marks {
            if mark.first && next < w.markOrigins.count {
                w.lastOrigin = w.markOrigins[next]
                next += 1
            }
            finish(mark.scalar, origin: Int(w.lastOrigin), table: table, to: &pieces, workspace: &w)
        }
    }

    /// Accent removal, lower-casing and the pre-tokenizer, for one character out of NFD (or cleaning).
    private func finish(_ scalar: UInt32, origin: Int, table: CharacterTable, to pieces: inout Pieces, workspace w: inout Workspace) {
        let options = configuration.normalizer
        let flags = table.flags(of: scalar)
        if options.stripsAccents && flags.contains(.nonspacingMark) { return }
        if options.lowercase && flags.contains(.lowercases), let lower = table.lowercase[scalar] {
            for character in lower { split(character, origin: origin, table: table, to: &pieces, workspace: &w) }
        } else {
            split(scalar, origin: origin, table: table, to: &pieces, workspace: &w)
        }
    }

    /// The pre-tokenizer's decision for one normalized character: separator, punctuation or word character.
    @inline(__always) private func split(
        _ scalar: UInt32, origin: Int, table: CharacterTable, to pieces: inout Pieces, workspace w: inout Workspace
    ) {
        let flags = table.flags(of: scalar)
        if flags.contains(.separator) {
            flushWord(to: &pieces, workspace: &w)
        } else if flags.contains(.punctuation) {
            flushWord(to: &pieces, workspace: &w)
            w.append(scalar, origin: origin)
            flushWord(to: &pieces, workspace: &w)
        } else {
            w.append(scalar, origin: origin)
        }
    }

    /// Splits the current word into WordPiece pieces (greedy longest match from the left) and clears it.
    private func flushWord(to pieces: inout Pieces, workspace w: inout Workspace) {
        let characters = w.origins.count
        guard characters > 0 else { return }
        defer { w.clearWord() }
        let wordStart = w.origins[0]
        let wordEnd = w.origins[characters - 1] + 1
        guard characters <= configuration.maxInputCharactersPerWord else {
            pieces.append(unknownId, start: wordStart, end: wordEnd)
            return
        }
        w.characterStarts.append(Int32(w.word.count))
        let mark = pieces.count
        let whole = vocabulary.wholePieces
        let continuation = vocabulary.continuationPieces
        let matched: Bool = w.word.withUnsafeBufferPointer { bytes in
            w.characterStarts.withUnsafeBufferPointer { starts in
                var start = 0
                while start < characters {
                    let table = start == 0 ? whole : continuation
                    let from = Int(starts[start])
                    var end = characters
                    var id: Int32 = -1
                    while end > start {
                        let length = Int(starts[end]) - from
                        if length <= table.maxKeyLength {
                            id = table.lookup(UnsafeBufferPointer(rebasing: bytes[from..<from + length]))
                            if id >= 0 { break }
                        }
                        end -= 1
                    }
                    guard id >= 0 else { return false }
                    pieces.append(id, start: w.origins[start], end: w.origins[end - 1] + 1)
                    start = end
                }
                return true
            }
        }
        if !matched {
            pieces.removeLast(from: mark)
            pieces.append(unknownId, start: wordStart, end: wordEnd)
        }
    }
}
