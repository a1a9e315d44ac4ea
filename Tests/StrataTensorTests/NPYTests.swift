import Foundation
import Testing
import StrataTestSupport
@testable import StrataTensor

@Suite struct NPYTests {
    @Test func roundTripsEveryWrittenType() throws {
        for dtype in [DType.f32, .f16, .i32] {
            let source = try Tensor(shape: [2, 3], floats: [1, -2, 3.5, 0, 7, -8]).converted(to: dtype)
            let back = try NPY.decode(NPY.encode(source))
            #expect(back.shape == [2, 3])
            #expect(back.dtype == dtype)
            #expect(back.floats == source.floats)
        }
    }

    @Test func headerIsAlignedToSixtyFourBytes() {
        let data = NPY.encode(Tensor(zeros: [5]))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(data.count == 10 + headerLength + 20)
    }

    @Test func readsTorchFixturesOfEveryDtype() throws {
        let ids = try SharedData.npy("fixtures/torch/bert_in_input_ids.npy")
        #expect(ids.dtype == .i32)
        #expect(ids.shape == [3, 17])
        #expect(ids.int32s[0] == 101)  // [CLS]
        let pixels = try SharedData.npy("fixtures/torch/resnet50_in_b.npy")
        #expect(pixels.shape == [1, 3, 192, 256])
        let rgb = try SharedData.npy("fixtures/torch/photo_decoded_uint8_HWC.npy")
        #expect(rgb.shape == [383, 640, 3])
    }

    @Test func rejectsTruncatedAndForeignData() {
        var data = NPY.encode(Tensor(zeros: [4]))
        data.removeLast(3)
        #expect(throws: NPY.Error.self) { try NPY.decode(data) }
        #expect(throws: NPY.Error.badMagic(file: "<data>")) { try NPY.decode(Data("hello world!".utf8)) }
    }
}
