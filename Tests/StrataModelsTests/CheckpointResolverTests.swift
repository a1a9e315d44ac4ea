import Foundation
import Testing
@testable import StrataModels

/// Hub names resolved offline in fake torch hub and Hugging Face caches.
@Suite struct CheckpointResolverTests {
    /// A temporary folder removed when the test ends.
    final class Scratch {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-hub-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }

        @discardableResult
        func file(_ path: String, _ text: String = "") throws -> URL {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
            return file
        }
    }

    @Test func torchvisionNamesResolveInTheTorchHubCache() throws {
        let scratch = try Scratch()
        let expected = try scratch.file("torch/hub/checkpoints/resnet50-0676ba61.pth")
        try scratch.file("torch/hub/checkpoints/resnet101-custom.pth")
        let resolver = CheckpointResolver(environment: ["TORCH_HOME": scratch.url.appendingPathComponent("torch").path],
                                          home: "/nonexistent")
        #expect(try resolver.resolve("torchvision/resnet50").path == expected.path)
        #expect(try resolver.resolve("torchvision/resnet101").lastPathComponent == "resnet101-custom.pth")
        // Without TORCH_HOME: ~/.cache/torch/hub/checkpoints.
        let byHome = CheckpointResolver(environment: [:], home: scratch.url.path)
        try scratch.file(".cache/torch/hub/checkpoints/resnet18-f37072fd.pth")
        #expect(try byHome.resolve("torchvision/resnet18").lastPathComponent == "resnet18-f37072fd.pth")
    }

    @Test func huggingFaceNamesResolveToTheSnapshotRefsMainNames() throws {
        let scratch = try Scratch()
        let repo = "hub/models--google--vit-base-patch16-224"
        try scratch.file(repo + "/refs/main", "abc123\n")
        try scratch.file(repo + "/snapshots/abc123/config.json", "{}")
        try scratch.file(repo + "/snapshots/old999/config.json", "{}")
        let hubCache = scratch.url.appendingPathComponent("hub").path
        let expected = scratch.url.appendingPathComponent(repo + "/snapshots/abc123").path
        #expect(try CheckpointResolver(environment: ["HF_HUB_CACHE": hubCache], home: "/x").resolve("google/vit-base-patch16-224").path == expected)
        #expect(try CheckpointResolver(environment: ["HF_HOME": scratch.url.path], home: "/x").resolve("google/vit-base-patch16-224").path == expected)
        let home = try Scratch()
        try home.file(".cache/huggingface/hub/models--bert-base-uncased/refs/main", "r1")
        try home.file(".cache/huggingface/hub/models--bert-base-uncased/snapshots/r1/config.json", "{}")
        #expect(try CheckpointResolver(environment: [:], home: home.url.path).resolve("bert-base-uncased").lastPathComponent == "r1")
    }

    @Test func aMissingNameListsEveryPlaceSearched() throws {
        let scratch = try Scratch()
        let resolver = CheckpointResolver(environment: ["HF_HUB_CACHE": scratch.url.path, "TORCH_HOME": scratch.url.path],
                                          home: "/nonexistent")
        do {
            _ = try resolver.resolve("torchvision/resnet152")
            Issue.record("a missing torchvision name resolved")
        } catch let ModelError.checkpointNotFound(name, searched) {
            #expect(name == "torchvision/resnet152")
            #expect(searched.contains(scratch.url.path + "/hub/checkpoints/resnet152-394f9c45.pth"))
            #expect(searched.contains(scratch.url.path + "/hub/checkpoints/resnet152-*.pth"))
        }
        let error = #expect(throws: ModelError.self) { try resolver.resolve("google/absent") }
        #expect(error?.description.contains(scratch.url.path + "/models--google--absent/refs/main") == true)
        // refs/main naming a snapshot that is not there is listed too.
        try scratch.file("models--org--half/refs/main", "gone")
        let half = #expect(throws: ModelError.self) { try resolver.resolve("org/half") }
        #expect(half?.description.contains("models--org--half/snapshots/gone") == true)
    }

    @Test func pathsAreNotNames() {
        #expect(CheckpointResolver.looksLikeName("google/vit-base-patch16-224"))
        #expect(CheckpointResolver.looksLikeName("torchvision/resnet50"))
        #expect(CheckpointResolver.looksLikeName("bert-base-uncased"))
        #expect(!CheckpointResolver.looksLikeName("/abs/model.safetensors"))
        #expect(!CheckpointResolver.looksLikeName("./models/x"))
        #expect(!CheckpointResolver.looksLikeName("models/resnet50.pth"))
        #expect(!CheckpointResolver.looksLikeName("a/b/c"))
    }
}
