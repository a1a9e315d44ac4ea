/// An 8-bit RGB image, rows top to bottom, pixels interleaved (H x W x 3), as
/// `numpy.asarray(Image.open(p).convert("RGB"))` holds it.
public struct RGBImage: Equatable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `height * width * 3` samples, R G B for each pixel.
    public var pixels: [UInt8]

    /// An image over `pixels`, which must hold `height * width * 3` samples.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage needs \(width * height * 3) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A copy of `height` rows of `width` pixels starting at `base`, rows `stride` bytes apart.
    init(width: Int, height: Int, copying base: UnsafePointer<UInt8>, stride: Int) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            guard let outBase = out.baseAddress else { return }
            for y in 0..<height {
                (outBase + y * width * 3).update(from: base + y * stride, count: width * 3)
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }
}

/// A rectangle of decoded RGB8 pixels inside a larger (possibly only partly decoded) image.
struct PixelRegion {
    /// Size of the whole image the region belongs to.
    var imageWidth: Int
    var imageHeight: Int
    /// Position and size of the valid pixels within the image.
    var x: Int
    var y: Int
    var width: Int
    var height: Int
    /// Pixel (x, y) of the image; rows are `stride` bytes apart.
    var base: UnsafeMutablePointer<UInt8>
    var stride: Int

    /// The address of image pixel (column, row), which must lie inside the region.
    @inline(__always) func row(_ imageRow: Int) -> UnsafeMutablePointer<UInt8> {
        base + (imageRow - y) * stride - x * 3
    }
}
