import Testing
import StrataTensor

@Suite struct AttentionTests {
    @Test func maskedMultiHeadAttentionMatchesScaledDotProductAttention() throws {
        let q = try Fixture.load("attn_q"), k = try Fixture.load("attn_k"), v = try Fixture.load("attn_v")
        let mask = try Fixture.load("attn_mask")
        expectMatches(try Kernels.attention(query: q, key: k, value: v, heads: 3, keyMask: .attend(mask)),
                      try Fixture.load("attn_y"), "attend mask")
        expectMatches(try Kernels.attention(query: q, key: k, value: v, heads: 3,
                                            keyMask: .attend(try Fixture.load("attn_mask_bool"))),
                      try Fixture.load("attn_y"), "boolean mask")
        // The same keys named by a PyTorch-style padding mask (nonzero = ignore), as floats.
        let ignore = try Tensor(shape: mask.shape, floats: mask.floats.map { $0 == 0 ? 1 : 0 })
        expectMatches(try Kernels.attention(query: q, key: k, value: v, heads: 3, keyMask: .ignore(ignore)),
                      try Fixture.load("attn_y"), "ignore mask")
        expectMatches(try Kernels.attention(query: q, key: k, value: v, heads: 3),
                      try Fixture.load("attn_y_nomask"), "no mask")
    }

    @Test func packedSelfAttentionWithAFullyMaskedSequenceGivesZeros() throws {
        let qkv = try Fixture.load("packed_qkv")
        var out = Tensor(zeros: [0])
        let workspace = Workspace()
        try Kernels.attention(packedQKV: qkv, heads: 2, keyMask: .attend(try Fixture.load("packed_mask")),
                              into: &out, workspace: workspace)
        expectMatches(out, try Fixture.load("packed_y"), "packed")
        #expect(out.floats[(6 * 8)...].allSatisfy { $0 == 0 })
    }

    @Test func badHeadsOrMaskThrow() throws {
        let q = try Fixture.load("attn_q"), k = try Fixture.load("attn_k")
        #expect(throws: TensorError.self) { try Kernels.attention(query: q, key: k, value: k, heads: 5) }
        #expect(throws: TensorError.self) {
            try Kernels.attention(query: q, key: k, value: k, heads: 3, keyMask: .attend(Tensor(zeros: [2, 5], dtype: .i32)))
        }
    }
}
