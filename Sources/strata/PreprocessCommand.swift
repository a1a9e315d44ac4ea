import ArgumentParser
import Foundation
import StrataImage
import StrataTensor

/// `strata preprocess`: runs the image preprocessing on files and writes the results as `.npy`, so
/// Strata's pixels can be held against Pillow + torchvision in Python.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode, resize, crop and normalize images; write each as DIR/<stem>.npy (float32 [3,H,W]).",
        discussion: """
        Matches torchvision on PIL images: Resize, CenterCrop, ToTensor, Normalize. Exits with status 1 \
        when any image failed (one line per failure on stderr); the other images are still written.
        """
    )

    @Argument(help: "JPEG or PNG files.")
    var images: [String]

    @Option(name: .long, help: "Output directory (created if missing).")
    var out: String

    @Option(name: .long, help: "Resize to exactly WIDTHxHEIGHT (torchvision Resize((H, W))).")
    var resize: String?

    @Option(name: .long, help: "Resize so the shorter side is N (torchvision Resize(N)).")
    var resizeShorter: Int?

    @Option(name: .long, help: "Center crop to N or WIDTHxHEIGHT after resizing.")
    var crop: String?

    @Option(name: .long, help: "bilinear or bicubic.")
    var interpolation: String = "bilinear"

    @Option(name: .long, help: "exact (matches Pillow) or fast (DCT-domain JPEG downscaling first).")
    var mode: String = "exact"

    @Flag(name: .long, help: "Apply the EXIF orientation (ImageOps.exif_transpose).")
    var exifTranspose = false

    @Option(name: .long, help: "Normalize mean, three comma-separated values.")
    var mean: String = "0.485,0.456,0.406"

    @Option(name: .long, help: "Normalize std, three comma-separated values.")
    var std: String = "0.229,0.224,0.225"

    @Flag(name: .long, help: "Also write the decoded image as DIR/<stem>_rgb.npy (uint8 [H,W,3]).")
    var rgb = false

    @Option(name: .long, help: "Refuse images with more pixels than this.")
    var maxPixels: Int = DecodeOptions.defaultMaxPixels

    @Flag(name: .long, help: "Accept truncated files, keeping what was decoded (Pillow's LOAD_TRUNCATED_IMAGES).")
    var allowTruncated = false

    func validate() throws {
        _ = try options()
        var seen: [String: String] = [:]
        for image in images {
            let stem = Self.stem(image)
            if let other = seen[stem] {
                throw ValidationError("\(other) and \(image) would both write \(stem).npy")
            }
            seen[stem] = image
        }
    }

    func run() throws {
        let options = try options()
        let preprocessor = try ImagePreprocessor(options: options)
        let decoder = try ImageDecoder.decoder(options.decode)
        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var failures = 0
        for image in images {
            do {
                let tensor = try preprocessor.tensor(contentsOf: image)
                try NPY.write(tensor, to: directory.appendingPathComponent("\(Self.stem(image)).npy"))
                if rgb {
                    let decoded = try decoder.pixels(contentsOf: image)
                    let data = NPY.encodeUInt8(decoded.pixels, shape: [decoded.height, decoded.width, 3])
                    try data.write(to: directory.appendingPathComponent("\(Self.stem(image))_rgb.npy"))
                }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("strata preprocess: \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private static func stem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    private func options() throws -> PreprocessOptions {
        guard resize == nil || resizeShorter == nil else {
            throw ValidationError("use either --resize WxH or --resize-shorter N, not both")
        }
        var resizeOption: PreprocessOptions.Resize?
        if let resize { resizeOption = .size(try Self.size(resize, option: "--resize", square: false)) }
        if let resizeShorter { resizeOption = .shorterSide(resizeShorter) }
        guard let interpolationOption = Interpolation(rawValue: interpolation) else {
            throw ValidationError("--interpolation must be bilinear or bicubic, not '\(interpolation)'")
        }
        guard let modeOption = PreprocessOptions.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be exact or fast, not '\(mode)'")
        }
        let options = PreprocessOptions(
            resize: resizeOption,
            crop: try crop.map { try Self.size($0, option: "--crop", square: true) },
            interpolation: interpolationOption, mode: modeOption,
            decode: DecodeOptions(exifTranspose: exifTranspose, maxPixels: maxPixels, allowTruncated: allowTruncated),
            mean: try Self.triple(mean, option: "--mean"), std: try Self.triple(std, option: "--std"))
        do {
            try options.validate()
        } catch let error as ImageError {
            throw ValidationError(error.description)
        }
        return options
    }

    private static func size(_ text: String, option: String, square: Bool) throws -> ImageSize {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        if square, parts.count == 1, let side = parts[0] { return ImageSize(width: side, height: side) }
        guard parts.count == 2, let width = parts[0], let height = parts[1] else {
            throw ValidationError("\(option) expects WIDTHxHEIGHT\(square ? " or N" : ""), not '\(text)'")
        }
        return ImageSize(width: width, height: height)
    }

    private static func triple(_ text: String, option: String) throws -> [Float] {
        let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(option) expects three comma-separated numbers, not '\(text)'")
        }
        return values.compactMap { $0 }
    }
}
