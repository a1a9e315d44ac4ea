import Foundation
import Testing
import StrataTensor
import StrataTestSupport

/// The command line's one way of reporting failures, its typed options and its one axis order.
@Suite struct CommandLineTests {
    @Test func everyCommandReportsAFailureAsOneLineNamingItselfAndExitsOne() throws {
        let folder = try SharedData.temporaryDirectory("strata-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("missing").path
        let runs: [(command: String, arguments: [String])] = [
            ("inspect", ["inspect", missing]),
            ("verify", ["verify", missing]),
            ("export", ["export", missing, "--column", "x", "--to", folder.appendingPathComponent("x.npy").path]),
            ("train", ["train", missing + ".yaml", "--cache", missing]),
            ("eval", ["eval", "--cache", missing, "--checkpoint", missing]),
            ("build", ["build", missing + ".yaml", "--progress", "none"]),
            ("encode", ["encode", "--model", "resnet18", "--checkpoint", missing + ".pth", "--input", missing + ".npy",
                        "--out", folder.path]),
        ]
        for run in runs {
            let result = try Programs.runCapturingErrors(try Programs.strata(), run.arguments)
            #expect(result.status == 1 && !result.signalled, "strata \(run.command): \(result.errors)")
            let lines = result.errors.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("strata \(run.command): ") && lines[0].contains(missing),
                    "strata \(run.command) reported: \(result.errors)")
        }
    }

    @Test func typedOptionsRefuseOtherValuesListingTheChoices() throws {
        let refused: [(arguments: [String], choices: [String])] = [
            (["build", "p.yaml", "--progress", "loud"], ["auto", "bar", "log", "none"]),
            (["preprocess", "a.jpg", "--out", "d", "--interpolation", "nearest"], ["bilinear", "bicubic"]),
            (["preprocess", "a.jpg", "--out", "d", "--mode", "quick"], ["exact", "fast"]),
            (["encode", "--model", "resnet51", "--checkpoint", "c", "--input", "i", "--out", "o"], ["resnet50", "vit", "bert"]),
        ]
        for (arguments, choices) in refused {
            let result = try Programs.runCapturingErrors(try Programs.strata(), arguments)
            #expect(result.status == 64, "\(arguments): \(result.errors)")
            for choice in choices { #expect(result.errors.contains(choice), "\(arguments) should list \(choice): \(result.errors)") }
        }
    }

    @Test func preprocessSizesAreHeightByWidthAsInPipelineFiles() throws {
        let images = try SharedData.url("data/coco-mini/val2017")
        guard let image = try FileManager.default.contentsOfDirectory(atPath: images.path).sorted().first(where: { $0.hasSuffix(".jpg") }) else {
            Issue.record("no JPEG in \(images.path)")
            return
        }
        let folder = try SharedData.temporaryDirectory("strata-cli-sizes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let stem = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent
        let cases: [(arguments: [String], shape: [Int])] = [
            (["--resize", "32x48"], [3, 32, 48]),
            (["--resize", "40", "--crop", "24x36"], [3, 24, 36]),
            (["--resize", "40", "--crop", "24"], [3, 24, 24]),
        ]
        for (arguments, shape) in cases {
            try Programs.run(try Programs.strata(), ["preprocess", images.appendingPathComponent(image).path, "--out", folder.path] + arguments)
            let tensor = try NPY.read(contentsOf: folder.appendingPathComponent("\(stem).npy"))
            #expect(tensor.shape == shape, "\(arguments)")
        }
    }
}
