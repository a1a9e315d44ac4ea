import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataTrain

/// Head configurations checked against `schemas/head.schema.json`, and checkpoints against caches.
@Suite struct HeadConfigTests {
    static let minimal = "kind: projector\nimage: image/synth/pooled\ntext: text/synth/mean\n"

    /// The error `yaml` raises, as `(key, reason)`.
    func violation(_ yaml: String) -> (key: String, reason: String)? {
        do {
            _ = try HeadConfig.parse(yaml, file: "h.yaml")
        } catch let TrainError.invalidHeadValue(file, key, reason) {
            #expect(file == "h.yaml")
            return (key, reason)
        } catch {
            Issue.record("unexpected \(error)")
        }
        return nil
    }

    @Test func shippedHeadsParseAndTheSchemaFileMatches() throws {
        let root = SharedData.repositoryRoot
        let onDisk = try String(contentsOf: root.appendingPathComponent("schemas/head.schema.json"), encoding: .utf8)
        #expect(onDisk == HeadSchema.json + "\n", "run `strata schema head > schemas/head.schema.json`")
        let heads = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("heads").path).filter { $0.hasSuffix(".yaml") }
        #expect(heads.count == 5)
        for name in heads {
            let config = try HeadConfig.load(path: root.appendingPathComponent("heads/\(name)").path)
            // What checkpoints store parses again to the same configuration.
            #expect(try HeadConfig.parse(try config.yaml(), file: name) == config, "\(name)")
        }
    }

    @Test func unknownKeysAreErrorsNamingTheKnownOnes() throws {
        let dim = try #require(violation(Self.minimal + "dimm: 64\n"))
        #expect(dim.key == "dimm" && dim.reason.hasPrefix("is not a known key (did you mean dim? known: attention_heads, dim, dropout"))
        let rate = try #require(violation(Self.minimal + "train: {learning_rat: 0.1}\n"))
        #expect(rate.key == "train.learning_rat" && rate.reason.contains("did you mean learning_rate?"))
        #expect(TrainError.invalidHeadValue(file: "h.yaml", key: rate.key, reason: rate.reason).description
            == "head config h.yaml: train.learning_rat \(rate.reason)")
    }

    @Test func badValuesListTheAllowedOnes() throws {
        let kind = try #require(violation("kind: projecter\nimage: a\ntext: b\n"))
        #expect(kind.key == "kind")
        #expect(kind.reason == "must be one of \"projector\", \"cross-attention\", \"decoupled\", \"pyramid\", \"concat-mlp\", found \"projecter\" (did you mean \"projector\"?)")
        #expect(violation(Self.minimal + "train: {split: training}\n")?.reason.hasPrefix("must be one of \"train\", \"val\"") == true)
        #expect(violation(Self.minimal + "dropout: 1.0\n").map { "\($0.key) \($0.reason)" } == "dropout must be less than 1, found 1")
        #expect(violation(Self.minimal + "dim: sixty\n").map { "\($0.key) \($0.reason)" } == "dim must be an integer, found a string")
        #expect(violation("image: a\ntext: b\n").map { "\($0.key) \($0.reason)" } == "kind is required")
        // Requirements of one kind are named by key too.
        #expect(violation("kind: pyramid\n").map(\.key) == "levels")
        #expect(violation("kind: projector\nimage: a\n").map { "\($0.key) \($0.reason)" } == "text is required by kind projector")
        #expect(violation("kind: cross-attention\nimage: a\ntext: b\ndim: 30\nattention_heads: 8\n").map(\.key) == "attention_heads")
    }

    @Test func aMissingColumnListsTheCachesColumns() throws {
        let cache = try SyntheticCaches.paired.get()
        let reader = try CacheReader(path: cache)
        #expect {
            try PairData(reader: reader, split: "train", imageColumns: ["image/synth/poold"], textColumns: ["text/synth/mean"])
        } throws: { error in
            "\(error)" == "cache \(cache): has no column 'image/synth/poold' (did you mean 'image/synth/pooled'? its columns: "
                + reader.manifest.columns.map(\.name).joined(separator: ", ") + ")"
        }
    }

    @Test func evalChecksACheckpointAgainstTheCachesColumns() throws {
        let cache = try SyntheticCaches.paired.get()
        let reader = try CacheReader(path: cache)
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = syntheticConfig(.projector)
        config.dim = 8
        // A head trained where the pooled image column was 2048 wide (ResNet-50), evaluated on a cache where it is 32.
        let head = try HeadFactory.make(config, imageWidths: ["image/synth/pooled": 2048], textWidths: ["text/synth/mean": 24])
        let url = folder.appendingPathComponent("best.safetensors")
        try HeadCheckpoint.save(head, imageWidths: ["image/synth/pooled": 2048], textWidths: ["text/synth/mean": 24], to: url)
        #expect {
            try HeadCheckpoint.load(url, for: reader)
        } throws: { error in
            let text = "\(error)"
            return text.contains("was trained on image column 'image/synth/pooled' with width 2048; this cache's 'image/synth/pooled' is image with width 32")
        }
        // Without the cache, the checkpoint loads; with a matching cache it does too.
        _ = try HeadCheckpoint.load(url)
        let matching = try HeadFactory.make(config, imageWidths: ["image/synth/pooled": 32], textWidths: ["text/synth/mean": 24])
        try HeadCheckpoint.save(matching, imageWidths: ["image/synth/pooled": 32], textWidths: ["text/synth/mean": 24], to: url)
        _ = try HeadCheckpoint.load(url, for: reader)
        // A head reading a column the cache lacks is named.
        var other = config
        other.text = "text/bert/mean"
        let missing = try HeadFactory.make(other, imageWidths: ["image/synth/pooled": 32], textWidths: ["text/bert/mean": 24])
        try HeadCheckpoint.save(missing, imageWidths: ["image/synth/pooled": 32], textWidths: ["text/bert/mean": 24], to: url)
        #expect { try HeadCheckpoint.load(url, for: reader) } throws: { "\($0)".contains("has no column 'text/bert/mean'") }
    }
}

/// `strata train` as a user runs it with its output redirected.
@Suite struct TrainCommandOutputTests {
    /// Runs `strata` to completion.
    static func run(_ strata: URL, _ arguments: [String]) throws {
        let run = try ProgramRun.run(strata, arguments)
        #expect(run.status == 0 && !run.signalled, "\(strata.lastPathComponent) \(arguments.joined(separator: " ")): \(run.errors)")
    }

    @Test func outputArrivesLineByLineWhenRedirected() throws {
        let strata = try BuiltProducts.strata()
        let folder = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Features of ResNet-50 and MiniLM widths, so an epoch takes a while.
        let cache = folder.appendingPathComponent("pairs").path
        try Self.run(BuiltProducts.strataDev(), ["write-synthetic-pairs", cache, "--train-images", "300", "--val-images", "100"])
        let head = folder.appendingPathComponent("head.yaml")
        try "kind: projector\nimage: image/resnet50/pooled\ntext: text/bert/mean\ntrain: {epochs: 100000, batch_size: 32, patience: 0}\n"
            .write(to: head, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = strata
        process.arguments = ["train", head.path, "--cache", cache, "--out", folder.appendingPathComponent("run").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // A stuck run is killed after two minutes, ending the read below.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { if process.isRunning { kill(pid, SIGKILL) } }
        // Line-buffered, the first line (the data summary) arrives by itself, long before training has
        // printed a buffer's worth (4096 bytes, some 40 epochs); block-buffered, it would arrive only
        // inside such a buffer.
        var received = Data()
        while !received.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            received.append(chunk)
        }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended by itself before the test killed it")
        #expect(received.count < 4096, "the first line came with \(received.count) bytes")
        let first = String(decoding: received, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("projector: ") && first.contains("training images"), "\(first)")
    }
}
