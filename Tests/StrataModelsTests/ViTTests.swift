import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// ViT against Hugging Face `ViTModel` on the strongly re-initialised tiny model.
@Suite(.serialized) struct ViTTests {
    static let tiny: Result<ViT, Error> = Result { try ViT(folder: SharedData.url("fixtures/torch/vit_tiny")) }

    @Test func tinyMatchesHuggingFace() throws {
        let encoder = try Self.tiny.get()
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList("last_hidden_state,pooler_output,cls,patch_tokens"))
        let last = try SharedData.npy("fixtures/torch/vit_tiny_out_last_hidden_state.npy")
        expectConforms(out[0], last, "vit tiny last_hidden_state")
        expectConforms(out[1], try SharedData.npy("fixtures/torch/vit_tiny_out_pooler_output.npy"), "vit tiny pooler_output")
        let (n, t, h) = (last.shape[0], last.shape[1], last.shape[2])
        let values = last.floats
        let cls = try Tensor(shape: [n, h], floats: (0..<n).flatMap { b in values[(b * t * h)..<(b * t * h + h)] })
        expectConforms(out[2], cls, "vit tiny cls")
        let patches = try Tensor(shape: [n, t - 1, h], floats: (0..<n).flatMap { b in values[(b * t * h + h)..<((b + 1) * t * h)] })
        expectConforms(out[3], patches, "vit tiny patch_tokens")
    }

    @Test func hiddenStatesAndMeans() throws {
        let encoder = try Self.tiny.get()
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList("hidden_state_0,hidden_state_1:cls,hidden_state_2,patch_tokens:mean"))
        #expect(out[0].shape == [2, 17, 64])
        #expect(out[1].shape == [2, 64])
        #expect(out[2].shape == [2, 17, 64])
        #expect(out[3].shape == [2, 64])
        // The final layer norm of hidden_state_2 is last_hidden_state.
        let normed = try Kernels.layerNorm(out[2], weight: try Tensor(shape: [64], floats: encoder.finalNormWeight),
                                           bias: try Tensor(shape: [64], floats: encoder.finalNormBias), eps: 1e-12)
        expectConforms(normed, try SharedData.npy("fixtures/torch/vit_tiny_out_last_hidden_state.npy"), "vit tiny norm(hidden_state_2)")
    }

    /// `[N, P, H]` tokens of a `g × g` grid averaged by the NCHW adaptive pooling kernel, back as tokens.
    func pooledByTheMapKernel(_ tokens: Tensor, grid g: Int, to size: Size2D) throws -> Tensor {
        let (n, p, h) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        let values = tokens.floats
        var map = [Float](repeating: 0, count: n * h * p)
        for b in 0..<n { for t in 0..<p { for j in 0..<h { map[(b * h + j) * p + t] = values[(b * p + t) * h + j] } } }
        let pooled = try Kernels.adaptiveAvgPool2d(try Tensor(shape: [n, h, g, g], floats: map), outputSize: size).floats
        let cells = size.height * size.width
        var out = [Float](repeating: 0, count: n * cells * h)
        for b in 0..<n { for c in 0..<cells { for j in 0..<h { out[(b * cells + c) * h + j] = pooled[(b * h + j) * cells + c] } } }
        return try Tensor(shape: [n, cells, h], floats: out)
    }

    @Test func patchTokensOfAnyLayerAndGridPooling() throws {
        let encoder = try Self.tiny.get()
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        let out = try encoder.encode(pixels: pixels, levels: try PyramidLevel.parseList(
            "patch_tokens,patch_tokens:pool2x2,patch_tokens:pool3,hidden_state_1,hidden_state_1_patches,hidden_state_1_patches:pool1x2"))
        #expect(encoder.grid == 4)
        expectConforms(out[1], try pooledByTheMapKernel(out[0], grid: 4, to: Size2D(2, 2)), "vit tiny patch_tokens:pool2x2")
        // 3 bins over 4 patches overlap (0..<2, 1..<3, 2..<4), as adaptive pooling does.
        expectConforms(out[2], try pooledByTheMapKernel(out[0], grid: 4, to: Size2D(3, 3)), "vit tiny patch_tokens:pool3")
        let (n, t, h) = (out[3].shape[0], out[3].shape[1], out[3].shape[2])
        let hidden = out[3].floats
        let patches = try Tensor(shape: [n, t - 1, h], floats: (0..<n).flatMap { b in hidden[(b * t * h + h)..<((b + 1) * t * h)] })
        expectConforms(out[4], patches, "vit tiny hidden_state_1_patches")
        expectConforms(out[5], try pooledByTheMapKernel(patches, grid: 4, to: Size2D(1, 2)), "vit tiny hidden_state_1_patches:pool1x2")
    }

    @Test func loadsThePrefixedNames() throws {
        let folder = try PrefixedCheckpoint.write(
            fixture: "vit_tiny", prefix: "vit.",
            extra: ("classifier.weight", try Tensor(shape: [3, 64], floats: [Float](repeating: 0.1, count: 192))))
        defer { try? FileManager.default.removeItem(at: folder) }
        let encoder = try EncoderLoader.imageEncoder(model: "vit", checkpoint: folder)
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        let out = try encoder.encode(pixels: pixels, levels: [PyramidLevel(output: "pooler_output")])
        expectConforms(out[0], try SharedData.npy("fixtures/torch/vit_tiny_out_pooler_output.npy"), "vit tiny (vit. prefix) pooler_output")
    }

    @Test func badLevelsAndInputs() throws {
        let encoder = try Self.tiny.get()
        for text in ["hidden_state_3", "layer2", "patch_tokens:cls", "cls:mean", "last_hidden_state:pool2x2",
                     "hidden_state_1:pool2x2", "hidden_state_1_patches:cls", "hidden_state_3_patches", "pooler_output:pool2"] {
            #expect(throws: ModelError.self, "\(text)") { try encoder.validate(levels: [try PyramidLevel(parsing: text)]) }
        }
        // Another image size runs on interpolated position embeddings; a wrong channel count or an image
        // smaller than one patch is refused.
        #expect(try encoder.encode(pixels: Tensor(zeros: [1, 3, 64, 48]), levels: [PyramidLevel(output: "cls")])[0].shape == [1, encoder.hidden])
        for shape in [[1, 1, 64, 64], [1, 3, encoder.patchSize - 1, 64], [3, 64, 64]] {
            #expect(throws: ModelError.self, "\(shape)") {
                try encoder.encode(pixels: Tensor(zeros: shape), levels: [PyramidLevel(output: "cls")])
            }
        }
        #expect(throws: ModelError.unknownModel(name: "vgg", known: EncoderLoader.imageModels)) {
            try EncoderLoader.imageEncoder(model: "vgg", checkpoint: URL(fileURLWithPath: "/tmp"))
        }
    }
}
