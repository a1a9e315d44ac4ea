import Foundation
import Testing
import StrataTensor

/// The one safetensors reader: what the writer writes reads back, and a damaged header names the fault.
@Suite struct SafetensorsCodecTests {
    @Test func writerOutputReadsBackFromAMappedFile() throws {
        let a = try Tensor(shape: [2, 2], floats: [1, 2, 3, 4]).converted(to: .bf16)
        let b = try Tensor(shape: [3], int32s: [7, 8, 9])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-codec-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafetensorsWriter.write([("x", a), ("ids", b)], to: url, metadata: ["k": "v/w"])
        let reader = try SafetensorsReader(url: url)
        #expect(reader.names == ["ids", "x"])
        #expect(reader.metadata == ["k": "v/w"])
        #expect(try reader.tensor("x").dtype == .bf16 && reader.tensor("x").floats == [1, 2, 3, 4])
        #expect(try reader.tensor("ids").int32s == [7, 8, 9])
        #expect(reader.data.count == 8 + 12)
        #expect(throws: TensorError.safetensors(file: url.path, fault: .missingTensor(tensor: "y"))) { try reader.tensor("y") }
    }

    @Test func dtypeNamesRoundTrip() {
        for dtype in DType.allCases { #expect(DType(safetensorsName: dtype.safetensorsName) == dtype) }
        #expect(DType(safetensorsName: "I64") == nil)
    }

    @Test func aTensorPastTheEndIsRefused() throws {
        var data = try SafetensorsWriter.encode([("w", Tensor(zeros: [4]))])
        data.removeLast(4)
        #expect(throws: TensorError.safetensors(file: "cut", fault: .outOfBounds(tensor: "w", end: 16, dataSize: 12))) {
            try SafetensorsReader(data: data, path: "cut")
        }
    }
}
