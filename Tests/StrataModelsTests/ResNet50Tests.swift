import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// ResNet-50 against torchvision on the F16 random-weight fixture (see fixtures/torch/README.md).
@Suite(.serialized) struct ResNet50Tests {
    static let encoder: Result<ResNet, Error> = Result {
        try ResNet(checkpoint: SharedData.url("fixtures/torch/resnet50.safetensors"))
    }

    static let outputs = ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]

    @Test(arguments: ["a", "b", "photo"])
    func matchesTorchvision(input: String) throws {
        let encoder = try Self.encoder.get()
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_\(input).npy")
        let levels = Self.outputs.map { PyramidLevel(output: $0) }
        let results = try encoder.encode(pixels: pixels, levels: levels)
        for (name, result) in zip(Self.outputs, results) {
            let reference = try SharedData.npy("fixtures/torch/resnet50_out_\(input)_\(name).npy")
            expectConforms(result, reference, "resnet50 \(input) \(name)")
        }
    }

    @Test func pooledAndReducedLevels() throws {
        let encoder = try Self.encoder.get()
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_b.npy")
        let levels = [try PyramidLevel(parsing: "layer2:pool7x7"), try PyramidLevel(parsing: "layer4:mean"),
                      PyramidLevel(output: "layer3", pool: [2, 3])]
        let results = try encoder.encode(pixels: pixels, levels: levels)
        let layer2 = try SharedData.npy("fixtures/torch/resnet50_out_b_layer2.npy")
        let expected = try Kernels.adaptiveAvgPool2d(layer2, outputSize: Size2D(7, 7))
        #expect(results[0].shape == [1, 512, 7, 7])
        #expect(Conformance.matches(results[0], expected))
        let avgpool = try SharedData.npy("fixtures/torch/resnet50_out_b_avgpool.npy")
        #expect(Conformance.matches(results[1], avgpool))
        #expect(results[2].shape == [1, 1024, 2, 3])
    }

    @Test func repeatedCallsGiveTheSameResult() throws {
        let encoder = try Self.encoder.get()
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_b.npy")
        let first = try encoder.encode(pixels: pixels, levels: [PyramidLevel(output: "avgpool")])
        let second = try encoder.encode(pixels: pixels, levels: [PyramidLevel(output: "avgpool")])
        // Equal up to rounding: OpenBLAS may split a product differently when another test changes its
        // thread count (attention runs its small products single-threaded) while this one runs.
        #expect(Conformance.maxAbsDifference(first[0].floats, second[0].floats) <= 1e-5)
    }

    @Test func unknownLevelsAreRejected() throws {
        let encoder = try Self.encoder.get()
        #expect(throws: ModelError.self) { try encoder.validate(levels: [PyramidLevel(output: "layer5")]) }
        #expect(throws: ModelError.self) { try encoder.validate(levels: [PyramidLevel(output: "layer2", reduce: .cls)]) }
        #expect(throws: ModelError.self) { try encoder.validate(levels: [PyramidLevel(output: "fc", pool: [7, 7])]) }
        let error = #expect(throws: ModelError.self) { try encoder.validate(levels: [PyramidLevel(output: "c5")]) }
        #expect(error?.description.contains("c5") == true && error?.description.contains("layer4") == true)
    }

    @Test func loadsPrefixedNamesWithoutFc() throws {
        // A timm-style features checkpoint: `model.` prefix, F32, no classifier.
        let source = try SafetensorsFile(url: SharedData.url("fixtures/torch/resnet50.safetensors"))
        var tensors: [(String, Tensor)] = []
        for name in source.names where !name.hasPrefix("fc.") && !name.hasSuffix("num_batches_tracked") {
            tensors.append(("model." + name, try source.floatTensor(name)))
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-resnet-\(UUID().uuidString).safetensors")
        try SafetensorsWriter.write(tensors, to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let encoder = try EncoderLoader.imageEncoder(model: "resnet50", checkpoint: url)
        #expect(throws: ModelError.self) { try encoder.validate(levels: [PyramidLevel(output: "fc")]) }
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_b.npy")
        let result = try encoder.encode(pixels: pixels, levels: [PyramidLevel(output: "avgpool")])
        #expect(Conformance.matches(result[0], try SharedData.npy("fixtures/torch/resnet50_out_b_avgpool.npy")))
    }

    @Test func missingTensorIsNamed() throws {
        let source = try SafetensorsFile(url: SharedData.url("fixtures/torch/resnet50.safetensors"))
        let tensors = try source.names.filter { $0 != "layer3.2.bn2.running_var" }.map { ($0, try source.floatTensor($0)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-resnet-\(UUID().uuidString).safetensors")
        try SafetensorsWriter.write(tensors, to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: ModelError.missingTensor(file: url.path, tensor: "layer3.2.bn2.running_var")) {
            try ResNet(checkpoint: url)
        }
    }
}
