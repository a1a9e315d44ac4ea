/// A width and a height in pixels.
public struct ImageSize: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int

    /// A size of `width` x `height`.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }

    /// A size from torchvision's order, `[height, width]` (as `Resize((h, w))`, `CenterCrop((h, w))`
    /// and pipeline files write it); nil unless there are exactly two values.
    public init?(heightWidth values: [Int]) {
        guard values.count == 2 else { return nil }
        self.init(width: values[1], height: values[0])
    }

    /// The size in torchvision's order, `[height, width]`.
    public var heightWidth: [Int] { [height, width] }
}

/// The preprocessing a pipeline asks for, mirroring torchvision's `Resize`, `CenterCrop`, `ToTensor`
/// and `Normalize` on a PIL image.
public struct PreprocessOptions: Sendable, Equatable {
    /// torchvision `Resize`'s two forms.
    public enum Resize: Sendable, Equatable {
        /// `Resize((height, width))`: exactly this size.
        case size(ImageSize)
        /// `Resize(n)`: the shorter side becomes `n`, the longer `int(n * long / short)`.
        case shorterSide(Int)
    }

    /// How JPEGs are decoded before resizing.
    public enum Mode: String, Sendable, CaseIterable {
        /// Full-size decode, then Pillow's resampling: matches Pillow + torchvision to ±1 level.
        case exact
        /// libjpeg-turbo DCT-domain downscaling to the smallest scale n/8 whose size is still at least the
        /// resize target, then the same resampling. Faster on large JPEGs; differs from `exact` by a few
        /// levels (see the tests). PNGs and small JPEGs are decoded as in `exact`.
        case fast
    }

    /// ImageNet's channel means, torchvision's usual `Normalize` mean.
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet's channel standard deviations.
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// The resize, or `nil` for none.
    public var resize: Resize?
    /// The center crop applied after resizing, or `nil` for none; larger than the image pads with 0.
    public var crop: ImageSize?
    /// The resampling filter.
    public var interpolation: Interpolation
    /// Exact or fast JPEG decoding.
    public var mode: Mode
    /// Decoding options (EXIF orientation, pixel limit, truncated files).
    public var decode: DecodeOptions
    /// `Normalize` mean per channel (R, G, B).
    public var mean: [Float]
    /// `Normalize` std per channel (R, G, B).
    public var std: [Float]

    /// Options with torchvision's ImageNet evaluation defaults unless given:
    /// `Resize(256)`, `CenterCrop(224)`, bilinear, exact, ImageNet mean and std.
    public init(resize: Resize? = .shorterSide(256), crop: ImageSize? = ImageSize(width: 224, height: 224),
                interpolation: Interpolation = .bilinear, mode: Mode = .exact, decode: DecodeOptions = DecodeOptions(),
                mean: [Float] = PreprocessOptions.imagenetMean, std: [Float] = PreprocessOptions.imagenetStd) {
        self.resize = resize
        self.crop = crop
        self.interpolation = interpolation
        self.mode = mode
        self.decode = decode
        self.mean = mean
        self.std = std
    }

    /// The size every image comes out at (the crop, else an exact resize), or nil when it depends on the
    /// image (a shorter-side resize without a crop, or no resize): the encoder's input size.
    public var outputSize: ImageSize? {
        if let crop { return crop }
        if case let .size(size)? = resize { return size }
        return nil
    }

    /// Throws `ImageError.invalidParameter` for sizes below 1, mean/std without 3 values or a std of 0.
    public func validate() throws {
        switch resize {
        case let .size(size)? where size.width < 1 || size.height < 1:
            throw ImageError.invalidParameter(name: "resize", value: "\(size)", reason: "both sides must be at least 1")
        case let .shorterSide(side)? where side < 1:
            throw ImageError.invalidParameter(name: "resize", value: "\(side)", reason: "must be at least 1")
        default: break
        }
        if let crop, crop.width < 1 || crop.height < 1 {
            throw ImageError.invalidParameter(name: "crop", value: "\(crop)", reason: "both sides must be at least 1")
        }
        guard mean.count == 3 else {
            throw ImageError.invalidParameter(name: "mean", value: "\(mean)", reason: "needs one value per channel (3)")
        }
        guard std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }) else {
            throw ImageError.invalidParameter(name: "std", value: "\(std)", reason: "needs 3 finite, non-zero values")
        }
        if decode.maxPixels < 1 {
            throw ImageError.invalidParameter(name: "max pixels", value: "\(decode.maxPixels)", reason: "must be at least 1")
        }
    }
}
