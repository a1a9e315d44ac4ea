import Foundation
import StrataCache
import StrataTestSupport
import Testing
@testable import StrataTrain

/// `strata train` and `strata eval` on a cache several times larger than the memory they may use: in a
/// cgroup (v1 memory controller) limited to `limit` bytes where the machine allows creating one (an
/// out-of-memory kill fails the run), otherwise checking the peak resident size the kernel reports for
/// the child processes.
@Suite("Training under a memory limit", .serialized)
struct MemoryLimitTests {
    static let limit = 200 << 20
    /// Without a cgroup: the peak resident size also counts the cache pages mapped while a batch is copied.
    static let residentLimit = 400 << 20

    /// A cache of ~0.75 GB: ResNet-50 C5 maps (2048 × 7 × 7, f16, 200 kB an image) and token-level text.
    static func writeCache(at path: String) throws -> Int {
        var spec = SyntheticPairCache(imageColumns: [.init("image/resnet50/c5", [2048, 7, 7])],
                                      textColumns: [.init("text/bert/tokens", width: 384, tokens: true)])
        spec.dtype = .f16
        spec.trainImages = 2600
        spec.valImages = 200
        spec.tokenRange = 8...20
        spec.latent = 16
        try spec.write(to: path)
        // Out of the page cache: pages the writer left there are charged to this process's group, and a
        // reader mapping them would not be charged for them.
        let data = path + "/data.mdb"
        let descriptor = open(data, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
            close(descriptor)
        }
        return (try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int) ?? 0
    }

    /// Runs `arguments` with `strata`, inside `group` when given; returns status and output.
    static func run(_ arguments: [String], in group: String?) throws -> (status: Int32, output: String) {
        let strata = try BuiltProducts.strata().path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The shell joins the group before it becomes strata, so every page strata touches is charged there.
        process.arguments = ["-c", group.map { "echo $$ > \($0)/cgroup.procs && exec \"$@\"" } ?? "exec \"$@\"", "sh", strata] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A new memory cgroup limited to `limit` bytes (swap included, when the kernel accounts it), or nil.
    static func makeGroup() -> String? {
        let root = "/sys/fs/cgroup/memory"
        let group = "\(root)/strata-test-\(getpid())"
        guard FileManager.default.isWritableFile(atPath: root),
              (try? FileManager.default.createDirectory(atPath: group, withIntermediateDirectories: false)) != nil else { return nil }
        do {
            try Data(String(limit).utf8).write(to: URL(fileURLWithPath: group + "/memory.limit_in_bytes"))
            if FileManager.default.fileExists(atPath: group + "/memory.memsw.limit_in_bytes") {
                try Data(String(limit).utf8).write(to: URL(fileURLWithPath: group + "/memory.memsw.limit_in_bytes"))
            }
            return group
        } catch {
            rmdir(group)
            return nil
        }
    }

    static func read(_ group: String, _ file: String) -> String {
        ((try? String(contentsOfFile: group + "/" + file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aCacheSeveralTimesTheLimitTrainsAndEvaluates() throws {
        let work = try SharedData.temporaryDirectory("strata-memory-limit")
        defer { try? FileManager.default.removeItem(at: work) }
        let cache = work.appendingPathComponent("cache").path
        let started = Date()
        let bytes = try Self.writeCache(at: cache)
        let written = Date()
        #expect(bytes > 3 * Self.limit, "the cache (\(bytes) bytes) must be several times the limit")
        let head = work.appendingPathComponent("head.yaml")
        try Data("""
            name: c5-projector
            kind: projector
            image: image/resnet50/c5
            text: text/bert/tokens
            dim: 32
            dropout: 0
            train: {epochs: 1, batch_size: 32, learning_rate: 0.003, patience: 0}
            """.utf8).write(to: head)
        let out = work.appendingPathComponent("run").path
        let group = Self.makeGroup()
        defer { if let group { rmdir(group) } }
        let train = try Self.run(["train", head.path, "--cache", cache, "--out", out, "--loader-threads", "2", "--prefetch", "2"], in: group)
        #expect(train.status == 0, "strata train under \(Self.limit >> 20) MB: \(train.output)")
        #expect(train.output.contains("2600 training images / 13000 captions"), "\(train.output)")
        #expect(train.output.contains("epoch 1  loss"), "\(train.output)")
        let eval = try Self.run(["eval", "--cache", cache, "--checkpoint", out + "/best.safetensors", "--split", "val"], in: group)
        #expect(eval.status == 0, "strata eval under \(Self.limit >> 20) MB: \(eval.output)")
        #expect(eval.output.contains("c5-projector: all pairs scored by the head's embeddings, in blocks"), "\(eval.output)")
        print(train.output + eval.output)
        // The peak resident sizes strata reports for itself (other tests' child processes run meanwhile).
        let peaks = (train.output + eval.output).components(separatedBy: "peak RSS ").dropFirst().compactMap { Double($0.prefix { $0.isNumber }) }
        #expect(peaks.count == 2, "\(train.output + eval.output)")
        let peak = (peaks.max() ?? .infinity) * 1e6
        let times = String(format: "cache written in %.0f s, train + eval %.0f s", written.timeIntervalSince(started), Date().timeIntervalSince(written))
        if let group {
            let used = Double(Self.read(group, "memory.max_usage_in_bytes")) ?? .nan
            print(String(format: "memory limit %d MB (cgroup), cache %.0f MB: peak charged %.0f MB, peak RSS %.0f MB; ",
                         Self.limit >> 20, Double(bytes) / 1e6, used / 1e6, peak / 1e6) + times)
            #expect(used <= Double(Self.limit))
            #expect(Self.read(group, "memory.oom_control").contains("oom_kill 0"), "\(Self.read(group, "memory.oom_control"))")
        } else {
            print(String(format: "no memory cgroup: peak RSS checked, cache %.0f MB: peak RSS %.0f MB; ", Double(bytes) / 1e6, peak / 1e6) + times)
            #expect(peak < Double(Self.residentLimit), "peak resident size of strata: \(peak / 1e6) MB")
        }
    }
}
