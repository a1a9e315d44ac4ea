import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

@Suite struct SafetensorsReaderTests {
    /// A file of `header` (raw JSON text) followed by `data`, its length field optionally lying.
    func file(header: String, data: [UInt8], announcedLength: UInt64? = nil) throws -> URL {
        var bytes = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: (announcedLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(json)
        bytes.append(contentsOf: data)
        return try write(bytes)
    }

    func write(_ bytes: Data) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-st-\(UUID().uuidString).safetensors")
        try bytes.write(to: url)
        return url
    }

    /// Opens `url` expecting a `ModelError`, whose description is returned.
    func failure(_ url: URL) -> (ModelError?, String) {
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try SafetensorsFile(url: url)
            return (nil, "")
        } catch let error as ModelError {
            return (error, error.description)
        } catch {
            return (nil, "\(error)")
        }
    }

    @Test func readsEveryDtypeTheWriterProduces() throws {
        let f32 = try Tensor(shape: [2, 3], floats: [1, -2, 3.5, 4, 5, 6])
        let f16 = f32.converted(to: .f16)
        let bf16 = f32.converted(to: .bf16)
        let i64 = SafetensorsWriter.Blob(name: "ids", dtype: "I64", shape: [3],
                                         bytes: [Int64(7), -8, 1 << 20].withUnsafeBytes { Data($0) })
        let data = try SafetensorsWriter.encode([
            .init(name: "a.f32", tensor: f32), .init(name: "b.f16", tensor: f16), .init(name: "c.bf16", tensor: bf16), i64,
        ], metadata: ["format": "pt"])
        let url = try write(data)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try SafetensorsFile(url: url)
        #expect(reader.names == ["a.f32", "b.f16", "c.bf16", "ids"])
        #expect(reader.metadata == ["format": "pt"])
        #expect(try reader.floatTensor("a.f32").floats == f32.floats)
        #expect(try reader.floatTensor("b.f16").floats == [1, -2, 3.5, 4, 5, 6])
        #expect(try reader.floatTensor("c.bf16").floats == [1, -2, 3.5, 4, 5, 6])
        #expect(try reader.tensor("b.f16").dtype == .f16)
        #expect(try reader.tensor("ids").int32s == [7, -8, 1 << 20])
        #expect(try reader.floatTensor("ids").floats == [Float(7), -8, 1_048_576])
        #expect(try Checkpoint(source: reader, prefix: "").float("a.f32", [2, 3]).shape == [2, 3])
    }

    @Test func missingTensorAndWrongShapeNameTheTensor() throws {
        let url = try write(SafetensorsWriter.encode([("w", try Tensor(shape: [2], floats: [1, 2]))]))
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try SafetensorsFile(url: url)
        #expect(throws: ModelError.missingTensor(file: url.path, tensor: "fc.weight")) { try reader.floatTensor("fc.weight") }
        #expect(throws: ModelError.shapeMismatch(file: url.path, tensor: "w", expected: [3], actual: [2])) {
            try Checkpoint(source: reader, prefix: "").float("w", [3])
        }
        let error = ModelError.missingTensor(file: url.path, tensor: "fc.weight")
        #expect(error.description.contains("fc.weight") && error.description.contains(url.path))
    }

    @Test func truncatedFiles() throws {
        let (short, _) = failure(try write(Data([1, 2, 3])))
        guard case .truncated = short else { Issue.record("expected truncated, got \(String(describing: short))"); return }
        // The data section ends before the last tensor does.
        let (cut, text) = failure(try file(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                                           data: [UInt8](repeating: 0, count: 8)))
        guard case let .outOfBounds(_, tensor, end, dataSize) = cut else { Issue.record("expected outOfBounds, got \(text)"); return }
        #expect(tensor == "w" && end == 16 && dataSize == 8)
        #expect(text.contains("'w'"))
    }

    @Test func lyingHeaderLength() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let (longer, text) = failure(try file(header: header, data: [0, 0, 0, 0], announcedLength: 10_000))
        guard case .truncated = longer else { Issue.record("expected truncated, got \(text)"); return }
        let (huge, hugeText) = failure(try file(header: header, data: [0, 0, 0, 0], announcedLength: 1 << 40))
        guard case .badHeader = huge else { Issue.record("expected badHeader, got \(hugeText)"); return }
        // Shorter than the JSON: the header is cut mid-object.
        let (shorter, shortText) = failure(try file(header: header, data: [0, 0, 0, 0], announcedLength: 20))
        guard case .badHeader = shorter else { Issue.record("expected badHeader, got \(shortText)"); return }
        let (notObject, notText) = failure(try file(header: "[1, 2]", data: []))
        guard case .badHeader = notObject else { Issue.record("expected badHeader, got \(notText)"); return }
    }

    @Test func byteCountMustMatchShape() throws {
        let (error, text) = failure(try file(header: #"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#,
                                             data: [UInt8](repeating: 0, count: 8)))
        guard case let .byteCountMismatch(_, tensor, shape, dtype, expected, actual) = error else {
            Issue.record("expected byteCountMismatch, got \(text)"); return
        }
        #expect(tensor == "w" && shape == [2, 3] && dtype == "F16" && expected == 12 && actual == 8)
        #expect(text.contains("'w'"))
    }

    @Test func overlappingOffsets() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let (error, text) = failure(try file(header: header, data: [UInt8](repeating: 0, count: 12)))
        guard case let .overlapping(_, tensor, other) = error else { Issue.record("expected overlapping, got \(text)"); return }
        #expect(tensor == "b" && other == "a")
    }

    @Test func gapsAndTrailingBytes() throws {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let (gapError, gapText) = failure(try file(header: gap, data: [UInt8](repeating: 0, count: 12)))
        #expect(gapError.map { if case .uncoveredBytes(_, 4, 4) = $0 { return true } else { return false } } == true, "\(gapText)")
        let trailing = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let (tailError, tailText) = failure(try file(header: trailing, data: [UInt8](repeating: 0, count: 6)))
        #expect(tailError.map { if case .uncoveredBytes(_, 4, 2) = $0 { return true } else { return false } } == true, "\(tailText)")
    }

    @Test func malformedEntries() throws {
        let cases: [(String, String)] = [
            (#"{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}"#, "unknown dtype"),
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, "dtype"),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "negative"),
            (#"{"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}"#, "shape"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, "ascending"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, "data_offsets"),
            (#"{"w":3}"#, "not an object"),
        ]
        for (header, expected) in cases {
            let (error, text) = failure(try file(header: header, data: [0, 0, 0, 0]))
            #expect(error != nil, "\(header)")
            #expect(text.contains("'w'") && text.contains(expected), "\(header) -> \(text)")
        }
    }

    @Test func unsupportedConversionNamesTheTensor() throws {
        let blob = SafetensorsWriter.Blob(name: "flags", dtype: "U16", shape: [2], bytes: Data([1, 0, 0, 0]))
        let url = try write(SafetensorsWriter.encode([blob]))
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try SafetensorsFile(url: url)
        #expect(throws: ModelError.unsupportedDType(file: url.path, tensor: "flags", dtype: "U16")) { try reader.floatTensor("flags") }
        let big = SafetensorsWriter.Blob(name: "big", dtype: "I64", shape: [1], bytes: [Int64(1) << 40].withUnsafeBytes { Data($0) })
        let bigURL = try write(SafetensorsWriter.encode([big]))
        defer { try? FileManager.default.removeItem(at: bigURL) }
        #expect(throws: ModelError.valueOutOfRange(file: bigURL.path, tensor: "big", index: 0)) {
            try SafetensorsFile(url: bigURL).tensor("big")
        }
    }

    @Test func missingFileIsUnreadable() {
        let path = "/nonexistent/strata/model.safetensors"
        #expect(throws: ModelError.self) { try SafetensorsFile(url: URL(fileURLWithPath: path)) }
    }

    @Test func readsTheResNetFixtureInF16() throws {
        let reader = try SafetensorsFile(url: SharedData.url("fixtures/torch/resnet50.safetensors"))
        #expect(reader.entries["conv1.weight"]?.dtype == "F16")
        #expect(reader.entries["conv1.weight"]?.shape == [64, 3, 7, 7])
        #expect(reader.entries["bn1.num_batches_tracked"]?.dtype == "I64")
        #expect(try reader.tensor("bn1.num_batches_tracked").dtype == .i32)
    }
}
