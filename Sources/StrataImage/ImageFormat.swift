/// The container format of an image file, recognised from its first bytes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"
    case gif = "GIF"
    case tiff = "TIFF"
    case webp = "WebP"
    case bmp = "BMP"
    case ico = "ICO"
    case jpeg2000 = "JPEG 2000"
    case heif = "HEIF/AVIF"
    case psd = "PSD"
    case unknown = "unknown (no known magic bytes)"

    /// Whether Strata decodes this format.
    public var isDecodable: Bool { self == .jpeg || self == .png }

    /// Sniffs the format from the magic bytes at the start of `bytes`.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + magic.count else { return false }
            for (i, byte) in magic.enumerated() where bytes[offset + i] != byte { return false }
            return true
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return .tiff }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts([0x00, 0x00, 0x01, 0x00]) || starts([0x00, 0x00, 0x02, 0x00]) { return .ico }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return .jpeg2000 }
        if starts(Array("ftyp".utf8), at: 4) { return .heif }
        if starts(Array("8BPS".utf8)) { return .psd }
        return .unknown
    }
}
