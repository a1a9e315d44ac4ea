/// Which split a dataset item belongs to, stored as one byte.
public enum Split: UInt8, Codable, Sendable, CaseIterable {
    case unassigned = 0, train = 1, val = 2, test = 3, restval = 4
}

/// One entry of the `images` table (key: image id).
///
/// Bytes, little-endian: `u32 width, u32 height, u8 split, u8 reserved (0), u16 n, n bytes UTF-8 file name`.
public struct ImageRecord: Equatable, Sendable {
    /// File name relative to the dataset's image folder.
    public var fileName: String
    /// Width in pixels of the original image.
    public var width: Int
    /// Height in pixels of the original image.
    public var height: Int
    /// The split the image belongs to.
    public var split: Split

    /// Describes an image.
    public init(fileName: String, width: Int, height: Int, split: Split) {
        self.fileName = fileName
        self.width = width
        self.height = height
        self.split = split
    }

    /// The record bytes; fails when a field does not fit its width.
    public func encoded(id: UInt64) throws -> [UInt8] {
        let name = Array(fileName.utf8)
        guard let w = UInt32(exactly: width), let h = UInt32(exactly: height), let n = UInt16(exactly: name.count) else {
            throw CacheError.badRecord(table: CacheLayout.imagesTable, id: id, reason: "size \(width)x\(height) or file name of \(name.count) bytes does not fit")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(12 + name.count)
        RecordBytes.append(w, to: &bytes)
        RecordBytes.append(h, to: &bytes)
        bytes.append(split.rawValue)
        bytes.append(0)
        RecordBytes.append(n, to: &bytes)
        bytes += name
        return bytes
    }

    /// Parses record bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws -> ImageRecord {
        func bad(_ reason: String) -> CacheError { .badRecord(table: CacheLayout.imagesTable, id: id, reason: reason) }
        guard bytes.count >= 12 else { throw bad("\(bytes.count) bytes, the header alone has 12") }
        let n = Int(bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self).littleEndian)
        guard bytes.count == 12 + n else { throw bad("file name of \(n) bytes needs \(12 + n) bytes, found \(bytes.count)") }
        guard let split = Split(rawValue: bytes[8]) else { throw bad("unknown split code \(bytes[8])") }
        return ImageRecord(fileName: String(decoding: bytes[12...], as: UTF8.self),
                           width: Int(bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian),
                           height: Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian),
                           split: split)
    }
}

/// One entry of the `captions` table (key: caption id).
///
/// Bytes, little-endian: `u64 image id, u32 t, u32 n, t × i32 token ids, n bytes UTF-8 text`.
public struct CaptionRecord: Equatable, Sendable {
    /// The image the caption describes.
    public var imageID: UInt64
    /// The caption as written in the dataset.
    public var text: String
    /// Token ids as the tokenizer produced them (special tokens included).
    public var tokenIDs: [Int32]

    /// Describes a caption.
    public init(imageID: UInt64, text: String, tokenIDs: [Int32]) {
        self.imageID = imageID
        self.text = text
        self.tokenIDs = tokenIDs
    }

    /// The record bytes.
    public func encoded(id: UInt64) throws -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard let t = UInt32(exactly: tokenIDs.count), let n = UInt32(exactly: utf8.count) else {
            throw CacheError.badRecord(table: CacheLayout.captionsTable, id: id, reason: "caption too long")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(16 + 4 * tokenIDs.count + utf8.count)
        RecordBytes.append(imageID, to: &bytes)
        RecordBytes.append(t, to: &bytes)
        RecordBytes.append(n, to: &bytes)
        for token in tokenIDs { RecordBytes.append(UInt32(bitPattern: token), to: &bytes) }
        bytes += utf8
        return bytes
    }

    /// Parses record bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws -> CaptionRecord {
        func bad(_ reason: String) -> CacheError { .badRecord(table: CacheLayout.captionsTable, id: id, reason: reason) }
        guard bytes.count >= 16 else { throw bad("\(bytes.count) bytes, the header alone has 16") }
        let t = Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
        let n = Int(bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian)
        guard bytes.count == 16 + 4 * t + n else {
            throw bad("\(t) tokens and \(n) text bytes need \(16 + 4 * t + n) bytes, found \(bytes.count)")
        }
        let tokens = (0..<t).map { Int32(bitPattern: bytes.loadUnaligned(fromByteOffset: 16 + 4 * $0, as: UInt32.self).littleEndian) }
        return CaptionRecord(imageID: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
                             text: String(decoding: bytes[(16 + 4 * t)...], as: UTF8.self),
                             tokenIDs: tokens)
    }
}

extension CaptionRecord {
    /// The image id of record bytes, without decoding the rest.
    public static func imageID(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws -> UInt64 {
        guard bytes.count >= 16 else {
            throw CacheError.badRecord(table: CacheLayout.captionsTable, id: id, reason: "\(bytes.count) bytes, the header alone has 16")
        }
        return bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
    }
}

enum RecordBytes {
    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
