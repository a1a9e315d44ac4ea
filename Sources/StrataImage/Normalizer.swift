/// torchvision's `ToTensor` (x / 255 in float32) and `Normalize` ((x - mean) / std in float32) for
/// 8-bit inputs, as a per-channel table of the 256 possible results.
struct Normalizer {
    private let table: [Float]

    init(mean: [Float], std: [Float]) {
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 {
                table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c]
            }
        }
        self.table = table
    }

    /// Writes the planes R, G, B of the packed RGB image at `pixels` to `out` ([3, H, W]).
    func writeCHW(_ pixels: UnsafePointer<UInt8>, size: ImageSize, into out: UnsafeMutablePointer<Float>) {
        let plane = size.width * size.height
        table.withUnsafeBufferPointer { t in
            let r = t.baseAddress.unsafelyUnwrapped, g = r + 256, b = r + 512
            for i in 0..<plane {
                out[i] = r[Int(pixels[3 * i])]
                out[plane + i] = g[Int(pixels[3 * i + 1])]
                out[2 * plane + i] = b[Int(pixels[3 * i + 2])]
            }
        }
    }
}
