/// Table names and key formats of a cache (documented for other readers in `schemas/cache-layout.md`).
public enum CacheLayout {
    /// Table holding the manifest JSON under the key `manifest`.
    public static let metaTable = "meta"
    /// Key of the manifest in `meta`.
    public static let manifestKey = "manifest"
    /// Key in `meta` of the manifest's CRC-32 (4 bytes, little-endian), written with every manifest.
    public static let manifestChecksumKey = "manifest#crc"
    /// Dataset index of images: image id → `ImageRecord` bytes.
    public static let imagesTable = "images"
    /// Dataset index of captions: caption id → `CaptionRecord` bytes.
    public static let captionsTable = "captions"
    /// Inputs that could not be processed: `FailureKey` → UTF-8 reason.
    public static let failuresTable = "failures"
    /// Suffix of the table that holds a 4-byte little-endian CRC-32 beside each value of a table.
    public static let checksumSuffix = "#crc"
    /// Name of the writer lock file inside the environment directory.
    public static let writerLockFile = "strata-writer.lock"

    /// Table names a column may not take.
    public static let reservedTables: Set<String> = [metaTable, imagesTable, captionsTable, failuresTable]

    /// Tables whose values carry checksums besides the feature columns.
    public static let checksummedIndexTables = [imagesTable, captionsTable]
}

/// Keys of the `failures` table: one modality byte (0 image, 1 caption) then the 8-byte big-endian id,
/// so an image and a caption with the same id never collide.
public enum FailureKey {
    /// The 9 key bytes.
    public static func bytes(modality: Manifest.Modality, id: UInt64) -> [UInt8] {
        [modality == .image ? 0 : 1] + withUnsafeBytes(of: id.bigEndian) { Array($0) }
    }

    /// The modality and id of a key, or nil when it is malformed.
    public static func parse(_ key: UnsafeRawBufferPointer) -> (Manifest.Modality, UInt64)? {
        guard key.count == 9, key[0] <= 1 else { return nil }
        let id = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        return (key[0] == 0 ? .image : .text, id)
    }
}
