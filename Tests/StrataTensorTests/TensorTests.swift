import Testing
@testable import StrataTensor

@Suite struct TensorTests {
    @Test func shapeCountAndStrides() throws {
        let t = try Tensor(shape: [2, 3, 4], floats: (0..<24).map(Float.init))
        #expect(t.count == 24)
        #expect(t.strides == [12, 4, 1])
        #expect(t.byteCount == 96)
        #expect(t.floats[23] == 23)
    }

    @Test func countMismatchIsAnError() {
        #expect(throws: TensorError.countMismatch(shape: [2, 2], expected: 4, actual: 3)) {
            try Tensor(shape: [2, 2], floats: [1, 2, 3])
        }
    }

    @Test func copyOnWriteKeepsValueSemantics() throws {
        let a = try Tensor(shape: [3], floats: [1, 2, 3])
        var b = a
        b.withUnsafeMutableFloats { $0[0] = 9 }
        #expect(a.floats == [1, 2, 3])
        #expect(b.floats == [9, 2, 3])
    }

    @Test func reshapeSharesElementsAndChecksCount() throws {
        let a = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let b = try a.reshaped([3, 2])
        #expect(b.shape == [3, 2])
        #expect(b.floats == a.floats)
        #expect(throws: TensorError.self) { try a.reshaped([4, 2]) }
    }

    @Test func halfPrecisionRoundTrips() throws {
        let values: [Float] = [0, 1, -2.5, 65504, 1e-3, 3.140625]
        let t = try Tensor(shape: [6], floats: values)
        let h = t.converted(to: .f16)
        #expect(h.byteCount == 12)
        #expect(h.converted(to: .f32).floats == values.map { Float(Float16($0)) })
        let b = t.converted(to: .bf16).converted(to: .f32).floats
        #expect(b[0] == 0 && b[1] == 1 && b[2] == -2.5 && b[5] == 3.140625)
    }

    @Test func bf16RoundsToNearestEven() {
        // 1 + 2^-8 lies halfway between two bf16 values; ties go to the even mantissa (1.0).
        #expect(HalfConversion.bf16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 lies halfway too; the even neighbour is above.
        #expect(HalfConversion.bf16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(HalfConversion.float(bf16Bits: HalfConversion.bf16Bits(.nan)).isNaN)
    }

    @Test func int32Conversion() throws {
        let ids = try Tensor(shape: [2, 2], int32s: [101, 2023, 102, 0])
        #expect(ids.converted(to: .f32).floats == [101, 2023, 102, 0])
        #expect(ids.converted(to: .f32).converted(to: .i32).int32s == [101, 2023, 102, 0])
    }
}
