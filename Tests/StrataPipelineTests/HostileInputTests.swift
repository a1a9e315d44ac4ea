import Foundation
import Testing
import StrataCache
import StrataImage
import StrataModels
import StrataTensor
import StrataTestSupport
@testable import StrataPipeline

/// Hostile or damaged inputs to a build: each is a recorded problem or a clear error, never a stopped
/// build, a hang or a crash.
@Suite struct HostileInputTests {
    /// The sample's train annotations with `edit` applied, written into `folder`.
    static func editedAnnotations(in folder: URL, _ edit: (inout [[String: Any]], inout [[String: Any]]) -> Void) throws -> URL {
        let sample = BuildFixture.root.appendingPathComponent("sample/coco-sample/annotations/captions_train2017.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: sample)) as? [String: Any])
        var images = try #require(json["images"] as? [[String: Any]])
        var annotations = try #require(json["annotations"] as? [[String: Any]])
        edit(&images, &annotations)
        json["images"] = images
        json["annotations"] = annotations
        let file = folder.appendingPathComponent("captions_train2017.json")
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        return file
    }

    @Test func badAnnotationRecordsAreListedAndTheBuildGoesOn() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var dropped: [Int] = []
        let annotations = try HostileInputTests.editedAnnotations(in: folder) { images, captions in
            dropped = [images[0]["id"] as? Int ?? 0, images[1]["id"] as? Int ?? 0]
            images[0]["width"] = -1
            images[1]["id"] = 1 << 40
            images[2]["file_name"] = String(repeating: "x", count: 70_000)
            captions[0]["id"] = -7
        }
        let pipeline = try BuildFixture.samplePipeline(in: folder, annotations: [annotations])
        let cache = folder.appendingPathComponent("cache")
        let summary = try BuildFixture.build(pipeline, cache: cache)
        #expect(!summary.stoppedEarly)
        let problems = summary.plan.problems
        // The four records, and the captions of the three dropped images.
        #expect(problems.filter { $0.contains("which the dataset does not list") }.count == problems.count - 4, "\(problems)")
        for text in ["images[0].width = -1", "images[1].id = 1099511627776", "images[2].file_name = 'xxx", "annotations[0].id = -7"] {
            #expect(problems.contains { $0.contains(text) && $0.contains("captions_train2017.json") }, "no problem says \(text): \(problems)")
        }
        #expect(summary.report.contains("annotation records were dropped"))
        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.images == 3)
        let ids = try reader.ids(column: "image/resnet50/pooled")
        #expect(!ids.contains(UInt64(dropped[0])) && !ids.contains(UInt64(dropped[1])))
        #expect(try CacheVerifier.verify(reader).isEmpty)
    }

    @Test func samplesWithNonFiniteFeaturesBecomeFailures() throws {
        let pooled = ColumnRows(column: "image/x/pooled", ids: [10, 11, 12],
                                rows: try Tensor(shape: [3, 2], floats: [1, 2, .nan, 4, 5, 6]), lengths: nil)
        // Padding past a sample's length is not stored, so an infinity there does not count.
        let tokens = ColumnRows(column: "text/x/tokens", ids: [10, 11, 12],
                                rows: try Tensor(shape: [3, 2, 1], floats: [1, .infinity, 3, 4, 5, .nan]), lengths: [1, 2, 2])
        let checked = try ColumnRows.separatingNonFinite([pooled, tokens], modality: .image)
        #expect(checked.rows.map(\.ids) == [[10], [10]])
        #expect(checked.rows[0].rows.floats == [1, 2])
        #expect(checked.rows[1].rows.shape == [1, 2, 1] && checked.rows[1].lengths == [1])
        #expect(checked.failures.map(\.0) == [11, 12])
        #expect(checked.failures.map(\.1) == ["image encoder: non-finite feature in column 'image/x/pooled' at element 0",
                                               "image encoder: non-finite feature in column 'text/x/tokens' at element 1"])
        let clean = try ColumnRows.separatingNonFinite([pooled].map { var c = $0; c.ids = [10]; c.rows = try Tensor(shape: [1, 2], floats: [1, 2]); return c }, modality: .image)
        #expect(clean.failures.isEmpty && clean.rows[0].ids == [10])
    }

    @Test func aTextCheckpointFolderBringsItsOwnTokenizer() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("bert-checkpoint")
        let sizes = SeededWeights.TransformerSizes(config: ["hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                                            "intermediate_size": 64])
        try SeededWeights.writeCheckpoint(model: "bert", sizes: sizes, seed: 4, into: checkpoint)
        // The checkpoint's own vocabulary differs from the sample's in one unused token.
        let sampleVocabulary = BuildFixture.root.appendingPathComponent("sample/bert-base-uncased-vocab")
        let vocabulary = try String(contentsOf: sampleVocabulary.appendingPathComponent("vocab.txt"), encoding: .utf8)
            .replacingOccurrences(of: "\n[unused5]\n", with: "\n[unused5-checkpoint]\n")
        try vocabulary.write(to: checkpoint.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        // The pipeline's tokenizer folder does not exist.
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        let text = try String(contentsOf: pipeline, encoding: .utf8)
            .replacingOccurrences(of: sampleVocabulary.path, with: folder.appendingPathComponent("missing-vocab").path)
        try text.write(to: pipeline, atomically: true, encoding: .utf8)

        var options = BuildOptions()
        options.cache = folder.appendingPathComponent("cache")
        options.textCheckpoint = checkpoint
        options.progress = nil
        options.log = { _ in }
        _ = try BuildRunner(config: try PipelineConfig.load(contentsOf: pipeline), provider: .standard, options: options).run()
        let manifest = try CacheReader(path: folder.appendingPathComponent("cache").path).manifest
        #expect(manifest.tokenizer?.vocabSHA256 == (try SHA256.hex(ofFileAt: checkpoint.appendingPathComponent("vocab.txt"))))
        #expect(manifest.tokenizer?.vocabSHA256 != (try SHA256.hex(ofFileAt: sampleVocabulary.appendingPathComponent("vocab.txt"))))
    }

    /// Runs `body` on another thread; false when it has not returned after `seconds` (then `release` runs
    /// to unblock it).
    static func returnsPromptly(_ seconds: Double, release: () -> Void, _ body: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            body()
            done.signal()
        }
        if done.wait(timeout: .now() + seconds) == .success { return true }
        release()
        done.wait()
        return false
    }

    @Test func aFIFOIsRefusedAsAnImageAndAsACheckpointInsteadOfWaitedOn() throws {
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("image.jpg").path
        #expect(mkfifo(fifo, 0o644) == 0)
        // Opening the FIFO for writing releases a reader stuck in open().
        let release = {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let imageError = LockedText()
        #expect(HostileInputTests.returnsPromptly(20, release: release) {
            do { _ = try ImageDecoder.decode(contentsOf: fifo) } catch { imageError.set("\(error)") }
        }, "decoding a FIFO waited for a writer")
        #expect(imageError.get().contains("not a regular file"), "\(imageError.get())")

        let checkpoint = folder.appendingPathComponent("bert")
        let sizes = SeededWeights.TransformerSizes(config: ["hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2])
        try SeededWeights.writeCheckpoint(model: "bert", sizes: sizes, seed: 1, into: checkpoint)
        let weights = checkpoint.appendingPathComponent("model.safetensors").path
        try FileManager.default.removeItem(atPath: weights)
        #expect(mkfifo(weights, 0o644) == 0)
        let checkpointError = LockedText()
        #expect(HostileInputTests.returnsPromptly(20, release: {
            let fd = open(weights, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }) {
            do { _ = try BERT(folder: checkpoint) } catch { checkpointError.set("\(error)") }
        }, "loading a FIFO checkpoint waited for a writer")
        #expect(checkpointError.get().contains("not a regular file"), "\(checkpointError.get())")
    }
}

extension HostileInputTests {
    @Test func aYAMLAliasBombIsRefusedBeforeItExpands() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<12 {
            yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect {
            _ = try PipelineConfig.parse(yaml, file: "bomb.yaml", baseDirectory: URL(fileURLWithPath: "/"))
        } throws: { error in
            "\(error)".contains("bomb.yaml: not valid YAML: the document expands to more than 100000 values")
        }
        let huge = "name: " + String(repeating: "x", count: 2 << 20)
        #expect {
            _ = try PipelineConfig.parse(huge, file: "huge.yaml", baseDirectory: URL(fileURLWithPath: "/"))
        } throws: { error in
            "\(error)".contains("at most 1048576 are read")
        }
    }

    @Test func encoderWorkersAreCheckedAgainstMemory() throws {
        let sides = [MemoryBudget.Side(name: "image_encoder", workers: 1000, model: 190 << 20, activations: 24 << 20)]
        #expect {
            try MemoryBudget.check(sides, available: 20 << 30)
        } throws: { error in
            let text = "\(error)"
            return text.contains("image_encoder=1000 needs about 214 MiB per worker (model 190 MiB, batch 24 MiB)")
                && text.contains("20480 MiB are available") && text.contains("try --workers image_encoder=96")
        }
        #expect(throws: Never.self) { try MemoryBudget.check(sides.map { var s = $0; s.workers = 8; return s }, available: 20 << 30) }

        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try BuildFixture.samplePipeline(in: folder)
        var workers = PipelineConfig.Workers()
        workers.imageEncoder = 100_000
        #expect {
            try BuildFixture.build(pipeline, cache: folder.appendingPathComponent("cache"), workers: workers)
        } throws: { error in
            "\(error)".contains("too many encoder workers for this machine's memory: image_encoder=100000 needs about")
        }
    }
}

/// A string shared with a worker thread.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func set(_ value: String) { lock.withLock { text = value } }
    func get() -> String { lock.withLock { text } }
}
