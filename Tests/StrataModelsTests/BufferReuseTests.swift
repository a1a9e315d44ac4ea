import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// After a warm-up call, a call of the same (or smaller) size reuses every buffer: no allocation in
/// the forward pass.
@Suite(.serialized) struct BufferReuseTests {
    @Test func resnetKeepsItsBuffers() throws {
        let encoder = try ResNet(checkpoint: SharedData.url("fixtures/torch/resnet50.safetensors"))
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_b.npy")
        let levels = [PyramidLevel(output: "layer2"), PyramidLevel(output: "fc")]
        _ = try encoder.encode(pixels: pixels, levels: levels)
        let b = encoder.buffers
        func addresses() -> [UnsafeMutableRawPointer] {
            [b.x, b.y, b.a, b.b, b.identity, b.pooled].map(\.storage.bytes) + [UnsafeMutableRawPointer(b.workspace.floats(0))]
        }
        let before = addresses()
        _ = try encoder.encode(pixels: pixels, levels: levels)
        #expect(addresses() == before)
    }

    @Test func transformersKeepTheirScratch() throws {
        let bert = try BERT(folder: SharedData.url("fixtures/torch/bert_tiny"))
        let ids = try SharedData.npy("fixtures/torch/bert_in_input_ids.npy")
        let mask = try SharedData.npy("fixtures/torch/bert_in_attention_mask.npy")
        let levels = [PyramidLevel(output: "last_hidden_state"), PyramidLevel(output: "pooler_output")]
        _ = try bert.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: levels)
        func addresses(_ s: TransformerScratch) -> [UnsafeMutablePointer<Float>] {
            [s.qkv, s.context, s.normed, s.up, s.scores, s.hidden, s.keyBias, s.patches].map { $0.floats(0) }
        }
        let before = addresses(bert.scratch)
        _ = try bert.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: levels)
        #expect(addresses(bert.scratch) == before)

        let vit = try ViT(folder: SharedData.url("fixtures/torch/vit_tiny"))
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        _ = try vit.encode(pixels: pixels, levels: levels)
        let vitBefore = addresses(vit.scratch)
        _ = try vit.encode(pixels: pixels, levels: levels)
        #expect(addresses(vit.scratch) == vitBefore)
    }
}
