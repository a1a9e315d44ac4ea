import Foundation
import Testing
import StrataTensor
import StrataTestSupport
@testable import StrataModels

/// `torch.save` archives read natively: the same values as safetensors, views followed, code refused.
@Suite struct TorchCheckpointTests {
    @Test func readsEveryStorageTypeAndViewAsSafetensorsHoldsThem() throws {
        let torch = try TorchCheckpoint(url: CheckpointFixtures.url("tensors.pth"))
        let reference = try SafetensorsFile(url: CheckpointFixtures.url("tensors.safetensors"))
        #expect(torch.names == reference.names)
        #expect(torch.names.contains("f32_transposed") && torch.names.contains("slice_b") && torch.names.contains("param"))
        for name in reference.names {
            #expect(try torch.shape(of: name) == reference.shape(of: name), "\(name)")
            #expect(try torch.dtype(of: name) == reference.dtype(of: name), "\(name)")
            #expect(try torch.floatTensor(name).floats == reference.floatTensor(name).floats, "\(name)")
        }
        #expect(try torch.floatTensor("scalar").floats == [2.5])
        #expect(try torch.floatTensor("i64").floats == [7, -8, 1_048_576])
    }

    @Test func loadsThroughTheCheckpointAbstractionWhateverTheFormat() throws {
        let torch = Checkpoint(source: try Checkpoint.open(CheckpointFixtures.url("tensors.pth")), prefix: "")
        let safetensors = Checkpoint(source: try Checkpoint.open(CheckpointFixtures.url("tensors.safetensors")), prefix: "")
        #expect(torch.source is TorchCheckpoint && safetensors.source is SafetensorsFile)
        #expect(try torch.float("f32_transposed", [5, 6]).floats == safetensors.float("f32_transposed", [5, 6]).floats)
        #expect(throws: ModelError.shapeMismatch(file: torch.path, tensor: "f32", expected: [4, 3], actual: [3, 4])) {
            try torch.float("f32", [4, 3])
        }
        #expect(throws: ModelError.missingTensor(file: torch.path, tensor: "absent")) { try torch.float("absent", [1]) }
    }

    @Test func aPickleCallingOSSystemIsRefusedAndNothingRuns() throws {
        let sentinel = "/tmp/strata-unpickle-ran-os-system"
        try? FileManager.default.removeItem(atPath: sentinel)
        let url = CheckpointFixtures.url("os_system.pth")
        #expect(throws: ModelError.unsafePickle(file: url.path, global: "posix.system")) { try TorchCheckpoint(url: url) }
        #expect(throws: ModelError.self) { try ResNet(checkpoint: url) }
        #expect(!FileManager.default.fileExists(atPath: sentinel))
        #expect(ModelError.unsafePickle(file: url.path, global: "posix.system").description.contains("'posix.system'"))
    }

    /// Protocol-2 pickles naming a global by GLOBAL and by STACK_GLOBAL.
    @Test func globalsOutsideTheAllowlistAreRefusedByName() throws {
        func load(_ bytes: [UInt8]) throws -> PickleValue {
            try bytes.withUnsafeBytes { buffer in
                var unpickler = RestrictedUnpickler(bytes: buffer, path: "test.pkl")
                return try unpickler.load()
            }
        }
        let osSystem: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\nX\u{2}\0\0\0lsq\0\u{85}R.".utf8)
        #expect(throws: ModelError.unsafePickle(file: "test.pkl", global: "os.system")) { try load(osSystem) }
        let eval: [UInt8] = [0x80, 0x04, 0x8c, 8] + Array("builtins".utf8) + [0x8c, 4] + Array("eval".utf8) + [0x93, 0x2e]
        #expect(throws: ModelError.unsafePickle(file: "test.pkl", global: "builtins.eval")) { try load(eval) }
        let getattr: [UInt8] = [0x80, 0x02] + Array("ctorch\nload\n.".utf8)
        #expect(throws: ModelError.unsafePickle(file: "test.pkl", global: "torch.load")) { try load(getattr) }
        // Allowed globals build values, never call anything.
        let ordered: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n)RX\u{1}\0\0\0aK\u{7}s.".utf8)
        guard case let .dict(dict) = try load(ordered), case let .int(seven)? = dict.values["a"] else {
            Issue.record("OrderedDict did not unpickle to a dict")
            return
        }
        #expect(seven == 7)
        #expect(throws: ModelError.self) { try load([0x80, 0x02, 0x81, 0x2e]) } // NEWOBJ
        #expect(throws: ModelError.self) { try load([0x80, 0x02, 0x4b]) } // ends before STOP
    }

    @Test func legacyFormatReadsAsTheZipFormatDoes() throws {
        let url = CheckpointFixtures.url("legacy.pth")
        let legacy = try TorchCheckpoint(url: url)
        let reference = try SafetensorsFile(url: CheckpointFixtures.url("tensors.safetensors"))
        #expect(legacy.names == reference.names)
        for name in reference.names {
            #expect(try legacy.shape(of: name) == reference.shape(of: name), "\(name)")
            #expect(try legacy.floatTensor(name).floats == reference.floatTensor(name).floats, "\(name)")
        }
        #expect(try Checkpoint.open(url) is TorchCheckpoint)
        // Cut inside the storages: refused with the file's path, never read past the end.
        let data = try Data(contentsOf: url)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-legacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for cut in [data.count - 3, data.count / 2, 40] {
            let truncated = folder.appendingPathComponent("cut-\(cut).pth")
            try data.prefix(cut).write(to: truncated)
            #expect(throws: ModelError.self) { try TorchCheckpoint(url: truncated) }
        }
    }

    @Test func damagedArchivesFailWithTheirPath() throws {
        let data = try Data(contentsOf: CheckpointFixtures.url("tensors.pth"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let truncated = folder.appendingPathComponent("truncated.pth")
        try data.prefix(data.count / 2).write(to: truncated)
        #expect(throws: ModelError.self) { try TorchCheckpoint(url: truncated) }
        do {
            _ = try TorchCheckpoint(url: truncated)
        } catch let error as ModelError {
            #expect(error.description.contains(truncated.path))
        }
    }

    @Test func hfViTFromPytorchModelBinGivesTheSameFeatures() throws {
        let fromBin = try ViT(folder: CheckpointFixtures.url("vit_tiny_bin"))
        let fromSafetensors = try ViT(folder: SharedData.url("fixtures/torch/vit_tiny"))
        let pixels = try SharedData.npy("fixtures/torch/vit_tiny_in_pixel_values.npy")
        let levels = try PyramidLevel.parseList("last_hidden_state,pooler_output")
        let a = try fromBin.encode(pixels: pixels, levels: levels)
        let b = try fromSafetensors.encode(pixels: pixels, levels: levels)
        #expect(a[0].floats == b[0].floats && a[1].floats == b[1].floats)
        expectConforms(a[0], try SharedData.npy("fixtures/torch/vit_tiny_out_last_hidden_state.npy"), "vit tiny (.bin) last_hidden_state")
    }

    @Test func hfBERTShardedBinShardedSafetensorsAndSafetensorsGiveTheSameFeatures() throws {
        let ids = try CheckpointFixtures.npy("bert_small_in_ids")
        let mask = try CheckpointFixtures.npy("bert_small_in_mask")
        let levels = try PyramidLevel.parseList("last_hidden_state,pooler_output")
        var outputs: [[Tensor]] = []
        for folder in ["bert_small_bin_sharded", "bert_small_st_sharded", "bert_small_safetensors"] {
            let encoder = try BERT(folder: CheckpointFixtures.url(folder))
            outputs.append(try encoder.encode(inputIDs: ids, attentionMask: mask, tokenTypeIDs: nil, levels: levels))
        }
        let source = try Checkpoint.open(CheckpointFixtures.url("bert_small_bin_sharded"))
        #expect(source is ShardedCheckpoint)
        #expect(try EncoderLoader.weightsFiles(of: CheckpointFixtures.url("bert_small_bin_sharded")).count == 7)
        for other in outputs.dropFirst() {
            #expect(other[0].floats == outputs[0][0].floats && other[1].floats == outputs[0][1].floats)
        }
        expectConforms(outputs[0][0], try CheckpointFixtures.npy("bert_small_out_last_hidden_state"), "bert small (sharded .bin) last_hidden_state")
        expectConforms(outputs[0][1], try CheckpointFixtures.npy("bert_small_out_pooler_output"), "bert small (sharded .bin) pooler_output")
    }

    @Test func aFolderWithoutWeightsNamesTheFilesLookedFor() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = ModelError.noWeights(folder: folder.path, looked: Checkpoint.folderFiles)
        #expect(throws: error) { try BERT(folder: folder) }
        #expect(error.description.contains("pytorch_model.bin.index.json"))
    }

    @Test func anIndexNamingAMissingShardFails() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strata-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        try Data(#"{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"#.utf8).write(to: index)
        #expect(throws: ModelError.self) { try Checkpoint.open(folder) }
        try Data(#"{"weight_map": {"a": "../elsewhere.safetensors"}}"#.utf8).write(to: index)
        #expect(throws: ModelError.self) { try Checkpoint.open(folder) }
    }
}
