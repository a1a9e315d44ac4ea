import StrataCache
import StrataImage

extension Manifest.Preprocessing {
    /// The manifest's record of `options`, in torchvision's terms: `Resize(n)` or `Resize((h, w))`, the
    /// crop as `[height, width]`, and mean and std as the shortest decimals that read back as the same floats.
    init(_ options: PreprocessOptions) {
        var shorter: Int?, exact: [Int]?
        switch options.resize {
        case let .shorterSide(side)?: shorter = side
        case let .size(size)?: exact = size.heightWidth
        case nil: break
        }
        self.init(resize: shorter, resizeTo: exact, crop: options.crop?.heightWidth, interpolation: options.interpolation.rawValue,
                  mean: options.mean.map { Double($0.description) ?? Double($0) },
                  std: options.std.map { Double($0.description) ?? Double($0) },
                  mode: options.mode.rawValue)
    }
}
