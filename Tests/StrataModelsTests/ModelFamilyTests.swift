import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// ResNet layouts and ViT sizes read from the checkpoint and its config, against PyTorch.
@Suite(.serialized) struct ModelFamilyTests {
    /// A temporary folder removed when the value is released.
    final class Scratch {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-family-\(UUID().uuidString)")
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    func expectLevels(_ encoder: ResNet, _ tag: String, _ levels: [String]) throws {
        let pixels = try CheckpointFixtures.npy("\(tag)_in")
        let out = try encoder.encode(pixels: pixels, levels: levels.map { PyramidLevel(output: $0) })
        for (level, tensor) in zip(levels, out) {
            expectConforms(tensor, try CheckpointFixtures.npy("\(tag)_out_\(level)"), "\(tag) \(level)")
        }
    }

    @Test func basicBlocksFromPthAndSafetensorsMatchTorchvision() throws {
        let fromPth = try ResNet(checkpoint: CheckpointFixtures.url("resnet_narrow_basic.pth"))
        let fromSafetensors = try ResNet(checkpoint: CheckpointFixtures.url("resnet_narrow_basic.safetensors"))
        #expect(fromPth.layout == ResNet.Layout(kind: .basic, blocks: [2, 2, 2, 2]))
        #expect(fromPth.architecture == "resnet18" && fromPth.features == 32)
        let levels = ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
        try expectLevels(fromPth, "resnet_narrow_basic", levels)
        let pixels = try CheckpointFixtures.npy("resnet_narrow_basic_in")
        let a = try fromPth.encode(pixels: pixels, levels: levels.map { PyramidLevel(output: $0) })
        let b = try fromSafetensors.encode(pixels: pixels, levels: levels.map { PyramidLevel(output: $0) })
        for (x, y) in zip(a, b) { #expect(x.floats == y.floats) }
    }

    @Test func bottleneckBlocksOfResNet101LayoutMatchTorchvision() throws {
        let url = CheckpointFixtures.url("resnet_narrow_bottleneck.pth")
        let encoder = try ResNet(checkpoint: url, expected: "resnet101")
        #expect(encoder.layout == ResNet.Layout(kind: .bottleneck, blocks: [3, 4, 23, 3]))
        try expectLevels(encoder, "resnet_narrow_bottleneck", ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"])
        #expect(throws: ModelError.self) { try ResNet(checkpoint: url, expected: "resnet50") }
        #expect(throws: ModelError.self) { try EncoderLoader.imageEncoder(model: "resnet152", checkpoint: url) }
        #expect(try EncoderLoader.imageEncoder(model: "resnet101", checkpoint: url).architecture == "resnet101")
    }

    /// Full-size torchvision ResNet-18 and ResNet-101 on Strata's seeded weights, which the fixture script
    /// draws with the same generator.
    @Test(arguments: [("resnet18", UInt64(18)), ("resnet101", UInt64(101))])
    func fullSizeLayoutsMatchTorchvision(name: String, seed: UInt64) throws {
        let scratch = Scratch()
        let layout = try #require(ResNet.layout(named: name))
        try FileManager.default.createDirectory(at: scratch.url, withIntermediateDirectories: true)
        let file = scratch.url.appendingPathComponent("\(name).safetensors")
        try SafetensorsWriter.write(try SeededWeights.resnet(layout, seed: seed), to: file)
        let encoder = try ResNet(checkpoint: file, expected: name)
        try expectLevels(encoder, "seeded_\(name)", ["layer2", "avgpool"])
    }

    /// ViT-S/14-sized (hidden 384, 6 heads, patch 14) at image size 168, run at 168 and at a 196 crop
    /// (position embeddings interpolated as Hugging Face's interpolate_pos_encoding).
    @Test func vitOfAnySizeAndInterpolatedPositionsMatchHuggingFace() throws {
        let scratch = Scratch()
        let sizes = SeededWeights.TransformerSizes(config: [
            "hidden_size": 384, "num_hidden_layers": 2, "num_attention_heads": 6, "intermediate_size": 1536,
            "image_size": 168, "patch_size": 14,
        ])
        let folder = try SeededWeights.writeCheckpoint(model: "vit", sizes: sizes, seed: 14, into: scratch.url)
        let encoder = try ViT(folder: folder)
        #expect(encoder.patchSize == 14 && encoder.hidden == 384 && encoder.imageSize == 168)
        for tag in ["native", "interpolated"] {
            let pixels = try CheckpointFixtures.npy("seeded_vit_s14_\(tag)_in")
            let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList("last_hidden_state,pooler_output"))
            expectConforms(out[0], try CheckpointFixtures.npy("seeded_vit_s14_\(tag)_out_last_hidden_state"), "vit s14 \(tag) last_hidden_state")
            expectConforms(out[1], try CheckpointFixtures.npy("seeded_vit_s14_\(tag)_out_pooler_output"), "vit s14 \(tag) pooler_output")
        }
    }

    @Test func theRegistryKnowsEachFamilysOutputs() throws {
        #expect(ModelRegistry.names(for: .image).starts(with: ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]))
        #expect(ModelRegistry.names(for: .image).contains("vit") && ModelRegistry.names(for: .text) == ["bert"])
        let resnet = try #require(ModelRegistry.family(named: "ResNet101"))
        #expect(resnet.stride(of: "layer3") == 16 && resnet.accepts(output: "fc") && !resnet.accepts(output: "cls"))
        let vit = try #require(ModelRegistry.family(named: "vit"))
        #expect(vit.accepts(output: "hidden_state_3_patches") && vit.accepts(output: "patch_tokens") && !vit.accepts(output: "layer1"))
        let bert = try #require(ModelRegistry.family(named: "bert"))
        #expect(bert.accepts(output: "hidden_state_2") && !bert.accepts(output: "patch_tokens") && !bert.accepts(output: "hidden_state_x"))
        #expect(EncodeRunner.defaultLevels(model: "resnet34").map(\.output) == ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"])
    }
}
