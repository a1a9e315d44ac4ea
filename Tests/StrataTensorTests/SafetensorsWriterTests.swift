import Foundation
import Testing
@testable import StrataTensor

@Suite struct SafetensorsWriterTests {
    /// Parses the header the way every safetensors reader does.
    func header(_ data: Data) throws -> (length: Int, json: [String: Any]) {
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let json = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        return (length, json)
    }

    @Test func layoutFollowsTheFormat() throws {
        let a = try Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        let b = try Tensor(shape: [3], int32s: [7, 8, 9]).converted(to: .i32)
        let data = try SafetensorsWriter.encode([("b.weight", a), ("a.ids", b)], metadata: ["format": "pt"])
        let (length, json) = try header(data)
        #expect(length % 8 == 0)
        #expect(data.count == 8 + length + 16 + 12)
        let first = try #require(json["b.weight"] as? [String: Any])
        #expect(first["dtype"] as? String == "F32")
        #expect(first["shape"] as? [Int] == [2, 2])
        #expect(first["data_offsets"] as? [Int] == [0, 16])
        let second = try #require(json["a.ids"] as? [String: Any])
        #expect(second["data_offsets"] as? [Int] == [16, 28])
        #expect((json["__metadata__"] as? [String: String]) == ["format": "pt"])
        let payload = data.subdata(in: (8 + length)..<data.count)
        let floats = payload.prefix(16).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(floats == [1, 2, 3, 4])
    }

    @Test func duplicateNamesAreRefused() throws {
        let t = Tensor(zeros: [1])
        #expect(throws: TensorError.self) { try SafetensorsWriter.encode([("x", t), ("x", t)]) }
        #expect(throws: TensorError.self) { try SafetensorsWriter.encode([("__metadata__", t)]) }
    }
}
