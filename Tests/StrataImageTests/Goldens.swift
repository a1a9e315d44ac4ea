import Foundation
import StrataImage
import StrataTestSupport

/// The compact goldens made by scripts/fixtures/make_image_goldens.py with Pillow + torchvision.
struct Goldens: Decodable {
    struct Form: Decodable {
        let shape: [Int]
        let sum: Int
        let offset: Int
        let count: Int
    }

    struct Image: Decodable {
        let file: String
        let error: String?
        let orientation: Int?
        let forms: [String: Form]?
    }

    let images: [Image]

    /// The folder holding goldens.json, samples.bin and full/.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load() throws -> (Goldens, [UInt8]) {
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: folder.appendingPathComponent("goldens.json")))
        let samples = try [UInt8](Data(contentsOf: folder.appendingPathComponent("samples.bin")))
        return (goldens, samples)
    }

    /// The script's sample indices: one per stride, jittered by a multiplicative hash.
    static func sampleIndices(total: Int, count: Int) -> [Int] {
        let n = min(count, total)
        let step = max(total / n, 1)
        return (0..<n).map { i in (i * total) / n + (i * 2_654_435_761) % step }
    }

    /// The preprocessing options of a golden form name.
    static func options(for form: String, mode: PreprocessOptions.Mode = .exact) -> PreprocessOptions {
        var name = form
        var decode = DecodeOptions()
        if name.hasPrefix("exif_") {
            decode.exifTranspose = true
            name.removeFirst("exif_".count)
        }
        let interpolation: Interpolation = name.hasSuffix("bicubic") ? .bicubic : .bilinear
        if name == "decoded" {
            return PreprocessOptions(resize: nil, crop: nil, mode: mode, decode: decode)
        }
        if name.hasPrefix("r256c224") {
            return PreprocessOptions(resize: .shorterSide(256), crop: ImageSize(width: 224, height: 224),
                                     interpolation: interpolation, mode: mode, decode: decode)
        }
        return PreprocessOptions(resize: .size(ImageSize(width: 224, height: 224)), crop: nil,
                                 interpolation: interpolation, mode: mode, decode: decode)
    }
}

/// How far an image is from a golden form.
struct GoldenComparison {
    var sampled = 0
    var withinOne = 0
    var maxDifference = 0
    var absoluteDifferenceSum = 0
    var sumDifference = 0

    init(_ image: RGBImage, form: Goldens.Form, samples: [UInt8]) {
        let indices = Goldens.sampleIndices(total: image.pixels.count, count: form.count)
        for (k, index) in indices.enumerated() {
            let d = abs(Int(image.pixels[index]) - Int(samples[form.offset + k]))
            sampled += 1
            if d <= 1 { withinOne += 1 }
            maxDifference = max(maxDifference, d)
            absoluteDifferenceSum += d
        }
        sumDifference = image.pixels.reduce(0) { $0 + Int($1) } - form.sum
    }

    /// Mean |difference| over the sampled values, in levels.
    var meanDifference: Double { Double(absoluteDifferenceSum) / Double(max(sampled, 1)) }
}
