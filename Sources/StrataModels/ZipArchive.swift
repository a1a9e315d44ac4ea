import Foundation
import StrataTensor

/// The stored (uncompressed) entries of a zip archive, read from its central directory over a memory
/// mapping, so an entry's bytes are addressed in place.
///
/// `torch.save` writes its archives this way: every record stored, each aligned to 64 bytes, zip64
/// records when the archive passes 4 GiB. Compressed or encrypted entries are listed but refused when read.
struct ZipArchive {
    /// One central directory entry.
    struct Entry {
        /// The entry's name (path inside the archive).
        let name: String
        /// Compression method (0 = stored).
        let method: UInt16
        /// General-purpose flags (bit 0 = encrypted).
        let flags: UInt16
        /// Size of the entry's data in the archive.
        let compressedSize: Int
        /// Size of the entry's data once extracted.
        let size: Int
        /// Offset of the entry's local header.
        let localHeaderOffset: Int
    }

    /// The archive's path, used in every error.
    let path: String
    /// The mapped archive.
    let file: MappedFile
    /// Entries by name, in central directory order.
    let entries: [Entry]
    private let index: [String: Int]

    static let endOfDirectorySignature: UInt32 = 0x0605_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let directorySignature: UInt32 = 0x0201_4b50
    static let localHeaderSignature: UInt32 = 0x0403_4b50

    /// Whether `bytes` begin like a zip archive (a local header or an empty archive's end record).
    static func looksLikeZip(_ file: MappedFile) -> Bool {
        guard let bytes = file.bytes, file.count >= 4 else { return false }
        let signature = bytes.loadUnaligned(as: UInt32.self).littleEndian
        return signature == localHeaderSignature || signature == endOfDirectorySignature
    }

    /// Reads the central directory of the mapped archive.
    init(file: MappedFile, path: String) throws {
        self.path = path
        self.file = file
        let reader = ByteReader(file: file, path: path)
        let end = try ZipArchive.findEndOfDirectory(reader)
        var count = Int(try reader.u16(end + 10))
        var directorySize = Int(try reader.u32(end + 12))
        var directoryOffset = Int(try reader.u32(end + 16))
        // Zip64: the locator sits just before the end record and points at the zip64 end record.
        if end >= 20, try reader.u32(end - 20) == ZipArchive.zip64LocatorSignature {
            let zip64End = try reader.int64(end - 20 + 8)
            guard try reader.u32(zip64End) == ZipArchive.zip64EndSignature else {
                throw ModelError.badArchive(file: path, reason: "zip64 end record missing at offset \(zip64End)")
            }
            count = try reader.int64(zip64End + 32)
            directorySize = try reader.int64(zip64End + 40)
            directoryOffset = try reader.int64(zip64End + 48)
        }
        guard directoryOffset <= file.count, directorySize <= file.count - directoryOffset else {
            throw ModelError.badArchive(file: path, reason: "central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the file")
        }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var position = directoryOffset
        for number in 0..<count {
            guard try reader.u32(position) == ZipArchive.directorySignature else {
                throw ModelError.badArchive(file: path, reason: "central directory entry \(number) at offset \(position) has no signature")
            }
            let flags = try reader.u16(position + 8)
            let method = try reader.u16(position + 10)
            var compressed = Int(try reader.u32(position + 20))
            var size = Int(try reader.u32(position + 24))
            let nameLength = Int(try reader.u16(position + 28))
            let extraLength = Int(try reader.u16(position + 30))
            let commentLength = Int(try reader.u16(position + 32))
            var localOffset = Int(try reader.u32(position + 42))
            let name = try reader.string(position + 46, count: nameLength)
            // Zip64 extra field: the 8-byte values of the fields saturated at 0xFFFFFFFF, in this order.
            var extra = position + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try reader.u16(extra)
                let length = Int(try reader.u16(extra + 2))
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF { size = try reader.int64(field); field += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try reader.int64(field); field += 8 }
                    if localOffset == 0xFFFF_FFFF { localOffset = try reader.int64(field) }
                }
                extra += 4 + length
            }
            index[name] = entries.count
            entries.append(Entry(name: name, method: method, flags: flags, compressedSize: compressed, size: size,
                                 localHeaderOffset: localOffset))
            position = extraEnd + commentLength
        }
        self.entries = entries
        self.index = index
    }

    /// The entry named `name`, if any.
    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of a stored entry, in place in the mapping.
    func bytes(of entry: Entry) throws -> UnsafeRawBufferPointer {
        guard entry.flags & 1 == 0 else {
            throw ModelError.badArchive(file: path, reason: "entry '\(entry.name)' is encrypted")
        }
        guard entry.method == 0, entry.compressedSize == entry.size else {
            throw ModelError.badArchive(file: path, reason: "entry '\(entry.name)' is compressed (method \(entry.method)); torch.save stores entries uncompressed")
        }
        let reader = ByteReader(file: file, path: path)
        let local = entry.localHeaderOffset
        guard try reader.u32(local) == ZipArchive.localHeaderSignature else {
            throw ModelError.badArchive(file: path, reason: "entry '\(entry.name)': no local header at offset \(local)")
        }
        let start = local + 30 + Int(try reader.u16(local + 26)) + Int(try reader.u16(local + 28))
        guard start <= file.count, entry.size <= file.count - start, let base = file.bytes else {
            throw ModelError.badArchive(file: path, reason: "entry '\(entry.name)': \(entry.size) bytes at offset \(start) run past the end of the file")
        }
        return UnsafeRawBufferPointer(start: base + start, count: entry.size)
    }

    /// The end-of-central-directory record: searched backwards over the comment that may follow it.
    private static func findEndOfDirectory(_ reader: ByteReader) throws -> Int {
        let count = reader.file.count
        guard count >= 22 else {
            throw ModelError.badArchive(file: reader.path, reason: "\(count) bytes, too short for a zip archive")
        }
        let lowest = max(0, count - 22 - 0xFFFF)
        var position = count - 22
        while position >= lowest {
            if try reader.u32(position) == endOfDirectorySignature { return position }
            position -= 1
        }
        throw ModelError.badArchive(file: reader.path, reason: "no end-of-central-directory record (the archive is truncated or not a zip)")
    }
}

/// Bounds-checked little-endian reads from a mapped file.
struct ByteReader {
    let file: MappedFile
    let path: String

    private func check(_ offset: Int, _ size: Int) throws -> UnsafeRawPointer {
        guard let base = file.bytes, offset >= 0, offset <= file.count - size else {
            throw ModelError.badArchive(file: path, reason: "read of \(size) bytes at offset \(offset) past the end of the \(file.count)-byte file")
        }
        return base + offset
    }

    func u16(_ offset: Int) throws -> UInt16 { try check(offset, 2).loadUnaligned(as: UInt16.self).littleEndian }
    func u32(_ offset: Int) throws -> UInt32 { try check(offset, 4).loadUnaligned(as: UInt32.self).littleEndian }

    /// An unsigned 64-bit field that must fit in `Int`.
    func int64(_ offset: Int) throws -> Int {
        let value = try check(offset, 8).loadUnaligned(as: UInt64.self).littleEndian
        guard value <= UInt64(Int.max) else {
            throw ModelError.badArchive(file: path, reason: "64-bit field at offset \(offset) is out of range")
        }
        return Int(value)
    }

    func string(_ offset: Int, count: Int) throws -> String {
        let start = try check(offset, count)
        return String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    }
}
