/// An open-addressing hash table from UTF-8 byte strings to token ids.
///
/// Keys live in one byte arena, so a lookup hashes a slice of the word being tokenized and compares
/// bytes in place: no `String` is made per candidate piece.
struct PieceTable: Sendable {
    private struct Slot: Sendable {
        var hash: UInt64 = 0
        var start: UInt32 = 0
        var count: UInt32 = 0
        var id: Int32 = -1
    }

    private var arena: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    private(set) var entryCount = 0
    /// The longest key, in bytes: longer slices cannot match.
    private(set) var maxKeyLength = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
        mask = size - 1
    }

    @inline(__always) static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h ^ (h >> 29)
    }

    /// Adds `key` with `id`, replacing the id of an equal key.
    mutating func insert<Bytes: Collection>(_ key: Bytes, id: Int32) where Bytes.Element == UInt8 {
        let bytes = Array(key)
        guard !bytes.isEmpty else { return }
        if existingSlot(for: bytes).map({ slots[$0].id = id }) != nil { return }
        if (entryCount + 1) * 2 > slots.count { grow() }
        let h = bytes.withUnsafeBufferPointer { Self.hash($0) }
        let start = UInt32(arena.count)
        arena.append(contentsOf: bytes)
        place(Slot(hash: h, start: start, count: UInt32(bytes.count), id: id))
        entryCount += 1
        maxKeyLength = max(maxKeyLength, bytes.count)
    }

    private func existingSlot(for bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buffer in
            let h = Self.hash(buffer)
            var index = Int(truncatingIfNeeded: h) & mask
            while slots[index].id >= 0 {
                if slots[index].hash == h && equal(slots[index], buffer) { return index }
                index = (index + 1) & mask
            }
            return nil
        }
    }

    private mutating func place(_ slot: Slot) {
        var index = Int(truncatingIfNeeded: slot.hash) & mask
        while slots[index].id >= 0 { index = (index + 1) & mask }
        slots[index] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.id >= 0 { place(slot) }
    }

    private func equal(_ slot: Slot, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard Int(slot.count) == bytes.count else { return false }
        return arena.withUnsafeBufferPointer { arena in
            let start = Int(slot.start)
            for i in 0..<bytes.count where arena[start + i] != bytes[i] { return false }
            return true
        }
    }

    /// The id of the key equal to `bytes`, or -1.
    @inline(__always) func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        let h = Self.hash(bytes)
        return slots.withUnsafeBufferPointer { slots in
            var index = Int(truncatingIfNeeded: h) & mask
            while true {
                let slot = slots[index]
                if slot.id < 0 { return -1 }
                if slot.hash == h && equal(slot, bytes) { return slot.id }
                index = (index + 1) & mask
            }
        }
    }
}
