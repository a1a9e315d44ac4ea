import Foundation
import Testing
import StrataCache
import StrataPipeline
import StrataTestSupport

/// `strata build` from checkpoint names resolved in a torch hub cache and a Hugging Face hub cache laid out
/// as those libraries lay them out, against the same build from the files' paths.
@Suite struct HubNameBuildTests {
    static let root = SharedData.repositoryRoot
    static let checkpoints = root.appendingPathComponent("Tests/StrataModelsTests/Fixtures/checkpoints")

    /// A torch hub cache with torchvision's ResNet-18 file name (a narrow ResNet-18 layout saved with
    /// `torch.save`), and a Hugging Face hub cache whose snapshot links to its blobs, as the hub client does.
    static func makeCaches(in folder: URL) throws -> (torchHome: URL, hubCache: URL, pth: URL, snapshot: URL) {
        let files = FileManager.default
        let torchHome = folder.appendingPathComponent("torch")
        let hubCheckpoints = torchHome.appendingPathComponent("hub/checkpoints")
        try files.createDirectory(at: hubCheckpoints, withIntermediateDirectories: true)
        let pth = hubCheckpoints.appendingPathComponent("resnet18-f37072fd.pth")
        try files.copyItem(at: checkpoints.appendingPathComponent("resnet_narrow_basic.pth"), to: pth)

        let minilm = try SharedData.url("models/all-MiniLM-L6-v2")
        let hubCache = folder.appendingPathComponent("hf-hub")
        let model = hubCache.appendingPathComponent("models--sentence-transformers--all-MiniLM-L6-v2")
        let revision = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
        let snapshot = model.appendingPathComponent("snapshots/\(revision)")
        try files.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try files.createDirectory(at: model.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try files.createDirectory(at: model.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try revision.write(to: model.appendingPathComponent("refs/main"), atomically: true, encoding: .utf8)
        for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            let blob = model.appendingPathComponent("blobs/\(name.replacingOccurrences(of: ".", with: "-"))")
            try files.createSymbolicLink(at: blob, withDestinationURL: minilm.appendingPathComponent(name))
            try files.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path,
                                         withDestinationPath: "../../blobs/\(blob.lastPathComponent)")
        }
        return (torchHome, hubCache, pth, snapshot)
    }

    static func pipeline(in folder: URL, image: String, text: String) throws -> URL {
        let sample = root.appendingPathComponent("sample/coco-sample")
        let yaml = """
            version: 1
            name: hub-names
            dataset:
              annotations: ["\(sample.path)/annotations/captions_train2017.json", "\(sample.path)/annotations/captions_val2017.json"]
              images: "\(sample.path)"
            preprocess: {resize: 64, crop: 56}
            tokenizer: {max_length: 16}
            encoders:
              image:
                model: resnet18
                checkpoint: \(image)
                levels:
                  - {name: c5, output: layer4, pool: [1, 1], dtype: f32}
                  - {name: pooled, output: avgpool, dtype: f32}
              text:
                model: bert
                checkpoint: \(text)
                levels:
                  - {name: cls, output: last_hidden_state, reduce: cls, dtype: f32}
            batch: {images: 4, captions: 8, commit_every: 4}
            output: {cache: cache}

            """
        let file = folder.appendingPathComponent("pipeline-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Runs `strata` with `environment` added to this process's; returns its status and both streams.
    static func run(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let run = try ProgramRun.run(try BuiltProducts.strata(), arguments, environment: environment)
        return (run.signalled ? -run.status : run.status, run.output + run.errors)
    }

    @Test func namesInTheHubCachesBuildWhatTheirFilesBuild() throws {
        let folder = try SharedData.temporaryDirectory("strata-hub-names")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (torchHome, hubCache, pth, snapshot) = try Self.makeCaches(in: folder)
        let environment = ["TORCH_HOME": torchHome.path, "HF_HUB_CACHE": hubCache.path]

        let byName = try Self.pipeline(in: folder, image: "torchvision/resnet18", text: "sentence-transformers/all-MiniLM-L6-v2")
        let named = folder.appendingPathComponent("named")
        let built = try Self.run(["build", byName.path, "--cache", named.path, "--progress", "none"], environment: environment)
        #expect(built.status == 0, "\(built.output)")
        let manifest = try CacheReader(path: named.path).manifest
        let image = try #require(manifest.encoders.first { $0.architecture == "resnet" })
        let text = try #require(manifest.encoders.first { $0.architecture == "bert" })
        #expect(image.checkpoint == "torchvision/resnet18 (\(pth.path))", "\(image.checkpoint)")
        #expect(text.checkpoint.hasPrefix("sentence-transformers/all-MiniLM-L6-v2 (\(snapshot.path)"), "\(text.checkpoint)")
        let pthHash = try SHA256.hex(ofFileAt: pth)
        #expect(image.weightsSHA256 == pthHash)
        // The snapshot's vocabulary ran (the pipeline names no tokenizer).
        let vocabHash = try SHA256.hex(ofFileAt: try SharedData.url("models/all-MiniLM-L6-v2/vocab.txt"))
        #expect(manifest.tokenizer?.vocabSHA256 == vocabHash)

        // Without the caches the names resolve nowhere, and the error lists where they were looked for.
        let missing = try Self.run(["build", byName.path, "--cache", folder.appendingPathComponent("missing").path, "--progress", "none"],
                                   environment: ["TORCH_HOME": folder.appendingPathComponent("nowhere").path,
                                                 "HF_HUB_CACHE": folder.appendingPathComponent("nowhere-hf").path])
        #expect(missing.status != 0)
        #expect(missing.output.contains(folder.appendingPathComponent("nowhere/hub/checkpoints").path), "\(missing.output)")

        // The same files by path give the same features.
        let byPath = try Self.pipeline(in: folder, image: pth.path, text: snapshot.path)
        let direct = folder.appendingPathComponent("direct")
        let second = try Self.run(["build", byPath.path, "--cache", direct.path, "--progress", "none"], environment: [:])
        #expect(second.status == 0, "\(second.output)")
        let (a, b) = (try CacheReader(path: named.path), try CacheReader(path: direct.path))
        for column in a.manifest.columns {
            let (ids, otherIDs) = (try a.ids(column: column.name), try b.ids(column: column.name))
            #expect(!ids.isEmpty && ids == otherIDs, "\(column.name)")
            for id in ids {
                let (x, y) = (try a.value(column: column.name, id: id), try b.value(column: column.name, id: id))
                #expect(x != nil && x?.floats == y?.floats, "\(column.name) \(id)")
            }
        }
    }
}
