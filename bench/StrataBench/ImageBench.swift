import Foundation
import StrataImage
import StrataTestSupport

/// `image`: decode + Resize(256) + CenterCrop(224) + ToTensor + Normalize on one core, Strata against
/// Pillow + torchvision on the same files: coco-mini in exact mode, then large (>= 2000 px) JPEGs, made
/// by upscaling coco-mini photos, in fast mode. Optional argument: how many large files (default 16).
enum ImageBench {
    static func run(_ arguments: [String]) throws {
        let largeCount = arguments.first.flatMap { Int($0) } ?? 16
        var coco: [String] = []
        for split in ["train2017", "val2017"] {
            let folder = try SharedData.url("data/coco-mini/\(split)")
            coco += try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                .filter { $0.hasSuffix(".jpg") }.map { folder.appendingPathComponent($0).path }
        }
        try compare(label: "coco-mini, exact", files: coco, mode: .exact)

        let temporary = try SharedData.temporaryDirectory("strata-image-bench")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let made = try Peer.run("image.py", ["make-large", temporary.path, String(largeCount)])
        guard let large = made["files"] as? [String], !large.isEmpty else {
            throw Peer.Failure(description: "image.py make-large returned no files")
        }
        try compare(label: "large (>= 2000 px), fast", files: large, mode: .fast)
    }

    private static func compare(label: String, files: [String], mode: PreprocessOptions.Mode) throws {
        let preprocessor = try ImagePreprocessor(options: PreprocessOptions(mode: mode))
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3 * 224 * 224)
        defer { buffer.deallocate() }
        let strata = try Stopwatch.best(of: 3) {
            for file in files { _ = try preprocessor.preprocess(contentsOf: file, into: buffer) }
        } / Double(files.count)
        let peer = try Peer.run("image.py", ["time"] + files)
        guard let peerSeconds = peer["seconds_per_image"] as? Double else {
            throw Peer.Failure(description: "image.py time printed no seconds_per_image")
        }
        print(String(format: "image %@: %d files  strata %.3f ms/img (%.0f img/s)  pillow+torchvision %.3f ms/img (%.0f img/s)  ratio %.2fx",
                     label, files.count, strata * 1e3, 1 / strata, peerSeconds * 1e3, 1 / peerSeconds, peerSeconds / strata))
    }
}
