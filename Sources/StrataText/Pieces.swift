/// The word pieces of one text before special tokens: ids and the characters each comes from.
struct Pieces {
    var ids: [Int32] = []
    var starts: [Int32] = []
    var ends: [Int32] = []

    var count: Int { ids.count }

    mutating func append(_ id: Int32, start: Int32, end: Int32) {
        ids.append(id)
        starts.append(start)
        ends.append(end)
    }

    mutating func removeLast(from count: Int) {
        ids.removeSubrange(count...)
        starts.removeSubrange(count...)
        ends.removeSubrange(count...)
    }

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }
}

/// Reusable buffers of one encoding thread, so the hot path does not allocate.
struct Workspace {
    /// The text's scalars.
    var scalars: [UInt32] = []
    /// The normalized UTF-8 bytes of the current word.
    var word: [UInt8] = []
    /// The byte offset in `word` of each of its characters, then the byte count.
    var characterStarts: [Int32] = []
    /// The original character each character of the word comes from.
    var origins: [Int32] = []
    /// Normalization of one character (decomposition, lower-casing).
    var mapped: [UInt32] = []
    var mappedNext: [UInt32] = []
    /// Pieces of the first and second text.
    var first = Pieces()
    var second = Pieces()
    /// Marks (nonzero combining class) waiting for canonical ordering when accents are stripped.
    var marks: [PendingMark] = []
    /// The original characters of the pending marks that begin a decomposition, in text order.
    var markOrigins: [Int32] = []
    /// The original character of the last normalized character.
    var lastOrigin: Int32 = 0

    @inline(__always) mutating func append(_ scalar: UInt32, origin: Int) {
        characterStarts.append(Int32(word.count))
        origins.append(Int32(origin))
        if scalar < 0x80 {
            word.append(UInt8(scalar))
        } else if scalar < 0x800 {
            word.append(UInt8(0xC0 | scalar >> 6))
            word.append(UInt8(0x80 | scalar & 0x3F))
        } else if scalar < 0x10000 {
            word.append(UInt8(0xE0 | scalar >> 12))
            word.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            word.append(UInt8(0x80 | scalar & 0x3F))
        } else {
            word.append(UInt8(0xF0 | scalar >> 18))
            word.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            word.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            word.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    mutating func clearWord() {
        word.removeAll(keepingCapacity: true)
        characterStarts.removeAll(keepingCapacity: true)
        origins.removeAll(keepingCapacity: true)
    }
}

/// A character of a decomposition waiting for canonical ordering.
struct PendingMark {
    /// Canonical combining class.
    var combiningClass: UInt8
    var scalar: UInt32
    /// Whether it is the first character of its decomposition (it then takes the place of an
    /// original character; the others are insertions aligned with the character before them).
    var first: Bool
}
