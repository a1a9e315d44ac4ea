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

    @Option(name: .long, help: "Resize as torchvision does: N makes the shorter side N (Resize(N)); HEIGHTxWIDTH resizes to exactly that size (Resize((H, W))). Pipeline files' preprocess.resize, in the same order.")
    var resize: SizeArgument?

    @Option(name: .long, help: "Center crop to N or HEIGHTxWIDTH after resizing (CenterCrop, torchvision's order).")
    var crop: SizeArgument?

    @Option(name: .long, help: "The resampling filter.")
    var interpolation: Interpolation = .bilinear

    @Option(name: .long, help: "exact (matches Pillow) or fast (DCT-domain JPEG downscaling first).")
    var mode: PreprocessOptions.Mode = .exact

    @Flag(name: .long, help: "Apply the EXIF orientation (ImageOps.exif_transpose).")
    var exifTranspose = false

    @Option(name: .long, help: "Normalize mean, three comma-separated values.")
    var mean = ChannelValues(PreprocessOptions.imagenetMean)

    @Option(name: .long, help: "Normalize std, three comma-separated values.")
    var std = ChannelValues(PreprocessOptions.imagenetStd)

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
                CommandFailure.report(String(describing: error), command: Self.configuration.commandName ?? "preprocess")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private static func stem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    private func options() throws -> PreprocessOptions {
        let options = PreprocessOptions(
            resize: resize.map { $0.side.map(PreprocessOptions.Resize.shorterSide) ?? .size($0.size) },
            crop: crop?.size, interpolation: interpolation, mode: mode,
            decode: DecodeOptions(exifTranspose: exifTranspose, maxPixels: maxPixels, allowTruncated: allowTruncated),
            mean: mean.values, std: std.values)
        do {
            try options.validate()
        } catch let error as ImageError {
            throw ValidationError(error.description)
        }
        return options
    }
}
