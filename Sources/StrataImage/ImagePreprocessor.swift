import StrataTensor

/// Decodes, resizes, crops and normalises images as Pillow + torchvision do, reusing its buffers from
/// image to image: once it has seen its largest input, preprocessing allocates nothing but the result
/// (and nothing at all through `preprocess(contentsOf:into:)`). Not thread-safe: one per worker.
public final class ImagePreprocessor {
    /// The preprocessing this instance performs.
    public let options: PreprocessOptions

    /// How many columns and rows beyond the resampler's reach a partial JPEG decode keeps, so the
    /// decoder's edge handling (upsampling at the cropped border) never touches a pixel that is used.
    private static let decodeMargin = 16

    private let reader = FileReader()
    private let jpeg = JPEGDecoder()
    private let png = PNGDecoder()
    private let resampler = Resampler()
    private let oriented = GrowableBuffer<UInt8>()
    private let output = GrowableBuffer<UInt8>()
    private let normalizer: Normalizer

    /// A preprocessor for `options`; throws `ImageError.invalidParameter` when they are out of range.
    public init(options: PreprocessOptions = PreprocessOptions()) throws {
        try options.validate()
        self.options = options
        normalizer = Normalizer(mean: options.mean, std: options.std)
    }

    // MARK: Public entry points

    /// The uint8 RGB pixels after decoding, resizing and cropping (`ToTensor`'s input), H x W x 3.
    public func pixels(contentsOf path: String) throws -> RGBImage {
        let bytes = try reader.read(path)
        return try pixels(decoding: bytes, name: path)
    }

    /// As `pixels(contentsOf:)` for encoded bytes in memory; `name` appears in errors.
    public func pixels(decoding bytes: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        let (base, size) = try run(bytes, file: name)
        return RGBImage(width: size.width, height: size.height, copying: base, stride: size.width * 3)
    }

    /// The normalised float32 tensor [3, H, W] torchvision's `ToTensor` + `Normalize` produce.
    public func tensor(contentsOf path: String) throws -> Tensor {
        let bytes = try reader.read(path)
        return try tensor(decoding: bytes, name: path)
    }

    /// As `tensor(contentsOf:)` for encoded bytes in memory; `name` appears in errors.
    public func tensor(decoding bytes: UnsafeRawBufferPointer, name: String) throws -> Tensor {
        let (base, size) = try run(bytes, file: name)
        var result = Tensor(zeros: [3, size.height, size.width])
        result.withUnsafeMutableFloats { normalizer.writeCHW(base, size: size, into: $0.baseAddress.unsafelyUnwrapped) }
        return result
    }

    /// The allocation-free path for pipeline workers: writes the normalised [3, H, W] values of the
    /// file at `path` into `buffer` and returns (W, H). Throws `ImageError.invalidParameter` when the
    /// result does not fit.
    public func preprocess(contentsOf path: String, into buffer: UnsafeMutableBufferPointer<Float>) throws -> ImageSize {
        let bytes = try reader.read(path)
        return try preprocess(decoding: bytes, name: path, into: buffer)
    }

    /// As `preprocess(contentsOf:into:)` for encoded bytes in memory.
    public func preprocess(decoding bytes: UnsafeRawBufferPointer, name: String,
                           into buffer: UnsafeMutableBufferPointer<Float>) throws -> ImageSize {
        let (base, size) = try run(bytes, file: name)
        guard let out = buffer.baseAddress, buffer.count >= 3 * size.width * size.height else {
            throw ImageError.invalidParameter(name: "output buffer", value: "\(buffer.count) floats",
                                              reason: "\(name) needs 3x\(size.height)x\(size.width)")
        }
        normalizer.writeCHW(base, size: size, into: out)
        return size
    }

    // MARK: The pipeline

    /// Decodes and resamples; returns packed RGB rows in `output`.
    private func run(_ bytes: UnsafeRawBufferPointer, file: String) throws -> (UnsafeMutablePointer<UInt8>, ImageSize) {
        guard bytes.count > 0 else { throw ImageError.empty(file: file) }
        let format = ImageFormat.sniff(bytes)
        var region: PixelRegion
        var orientation = 1
        var original: ImageSize
        switch format {
        case .jpeg:
            let decoded = try jpeg.decode(bytes, file: file, options: options.decode) { header in
                try self.plan(header)
            }
            region = decoded.region
            orientation = decoded.header.orientation
            original = ImageSize(width: decoded.header.width, height: decoded.header.height)
        case .png:
            let decoded = try png.decode(bytes, file: file, options: options.decode)
            region = decoded.region
            orientation = decoded.orientation
            original = ImageSize(width: region.width, height: region.height)
        default:
            throw ImageError.unsupportedFormat(file: file, format: format.rawValue)
        }

        if options.decode.exifTranspose && orientation != 1 {
            let size = EXIFOrientation.orientedSize(width: region.width, height: region.height, orientation: orientation)
            let base = oriented.reserve(size.width * size.height * 3)
            EXIFOrientation.transpose(region, orientation: orientation, into: base)
            region = PixelRegion(imageWidth: size.width, imageHeight: size.height, x: 0, y: 0,
                                 width: size.width, height: size.height, base: base, stride: size.width * 3)
            if orientation >= 5 { original = ImageSize(width: original.height, height: original.width) }
        }

        let (target, window) = geometry(original: original, decoded: ImageSize(width: region.imageWidth, height: region.imageHeight))
        let base = output.reserve(window.width * window.height * 3)
        resampler.resample(region, outWidth: target.width, outHeight: target.height, window: window,
                           interpolation: options.interpolation, into: base)
        return (base, ImageSize(width: window.width, height: window.height))
    }

    /// The resize target and the crop window for an image whose (oriented) full size is `original`
    /// and whose decoded size is `decoded` (smaller in fast mode).
    private func geometry(original: ImageSize, decoded: ImageSize) -> (target: ImageSize, window: PixelWindow) {
        let target = options.resize.map { TorchvisionGeometry.resizedSize(original, for: $0) } ?? decoded
        let window = options.crop.map { TorchvisionGeometry.centerCropWindow(target, crop: $0) }
            ?? PixelWindow(x: 0, y: 0, width: target.width, height: target.height)
        return (target, window)
    }

    /// What to decode of a JPEG: the DCT scale in fast mode, and, when no EXIF rotation intervenes, only
    /// the columns and rows the resize and crop read (plus a margin).
    private func plan(_ header: JPEGHeader) throws -> JPEGRequest {
        let rotates = options.decode.exifTranspose && header.orientation != 1
        var original = ImageSize(width: header.width, height: header.height)
        if rotates && header.orientation >= 5 { original = ImageSize(width: header.height, height: header.width) }
        var request = JPEGRequest()
        if options.mode == .fast, let resize = options.resize {
            let target = TorchvisionGeometry.resizedSize(original, for: resize)
            for numerator in 1...8 {
                let scaled = header.scaledSize(numerator)
                let oriented = rotates && header.orientation >= 5 ? (scaled.height, scaled.width) : (scaled.width, scaled.height)
                if oriented.0 >= target.width && oriented.1 >= target.height {
                    request.scaleNumerator = numerator
                    break
                }
            }
        }
        guard !rotates else { return request }
        let scaled = header.scaledSize(request.scaleNumerator)
        let decoded = ImageSize(width: scaled.width, height: scaled.height)
        let (target, window) = geometry(original: original, decoded: decoded)
        let needed = resampler.requiredInput(imageWidth: decoded.width, imageHeight: decoded.height,
                                             outWidth: target.width, outHeight: target.height,
                                             window: window, interpolation: options.interpolation)
        let margin = ImagePreprocessor.decodeMargin
        if needed.columns.isEmpty || needed.rows.isEmpty { return request }
        request.columns = max(needed.columns.lowerBound - margin, 0)..<min(needed.columns.upperBound + margin, decoded.width)
        request.rows = max(needed.rows.lowerBound - margin, 0)..<min(needed.rows.upperBound + margin, decoded.height)
        return request
    }
}
