/// How images are decoded.
public struct DecodeOptions: Sendable, Equatable {
    /// Pillow's `MAX_IMAGE_PIXELS` error threshold (2 x 89,478,485): larger images are refused.
    public static let defaultMaxPixels = 178_956_970

    /// Undo the EXIF orientation (1-8) as `ImageOps.exif_transpose` does. Off by default, as in
    /// torchvision, which never looks at EXIF.
    public var exifTranspose: Bool
    /// Images whose header announces more pixels are refused before any pixel memory is allocated.
    public var maxPixels: Int
    /// Accept images whose data ends early, keeping what the decoder filled in (Pillow's
    /// `ImageFile.LOAD_TRUNCATED_IMAGES`). Off by default: a truncated file is `ImageError.truncated`,
    /// as Pillow raises "image file is truncated".
    public var allowTruncated: Bool

    /// Options with the defaults above unless given.
    public init(exifTranspose: Bool = false, maxPixels: Int = DecodeOptions.defaultMaxPixels, allowTruncated: Bool = false) {
        self.exifTranspose = exifTranspose
        self.maxPixels = maxPixels
        self.allowTruncated = allowTruncated
    }
}
