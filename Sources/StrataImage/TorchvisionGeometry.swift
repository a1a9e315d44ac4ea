/// torchvision's size arithmetic for PIL images, reproduced with its rounding.
public enum TorchvisionGeometry {
    /// The size `Resize` produces for an image of `size` (`_compute_resized_output_size`): for
    /// `.shorterSide(n)` the shorter side becomes n and the longer `int(n * long / short)`.
    public static func resizedSize(_ size: ImageSize, for resize: PreprocessOptions.Resize) -> ImageSize {
        switch resize {
        case let .size(target):
            return target
        case let .shorterSide(n):
            let (short, long) = size.width <= size.height ? (size.width, size.height) : (size.height, size.width)
            let newLong = Int(Double(n * long) / Double(short))
            return size.width <= size.height ? ImageSize(width: n, height: newLong) : ImageSize(width: newLong, height: n)
        }
    }

    /// The window `CenterCrop(crop)` keeps of an image of `size`: torchvision pads a too-small image
    /// with zeros ((d // 2) before, ((d + 1) // 2) after), then takes
    /// `top = int(round((h - th) / 2.0))` (Python rounds halves to even). Coordinates are in the
    /// unpadded image, so they are negative where padding shows.
    public static func centerCropWindow(_ size: ImageSize, crop: ImageSize) -> PixelWindow {
        func axis(_ length: Int, _ target: Int) -> Int {
            let before = target > length ? (target - length) / 2 : 0
            let after = target > length ? (target - length + 1) / 2 : 0
            let padded = length + before + after
            let offset = Int((Double(padded - target) / 2).rounded(.toNearestOrEven))
            return offset - before
        }
        return PixelWindow(x: axis(size.width, crop.width), y: axis(size.height, crop.height),
                           width: crop.width, height: crop.height)
    }
}
