import Foundation

/// Finds checkpoints named as people name them, offline, in the caches PyTorch and Hugging Face fill:
///
/// - `torchvision/resnet50` (and the other torchvision ResNets): torchvision's file name (e.g.
///   `resnet50-0676ba61.pth`, `resnet50-11ad3fa6.pth`), or any `resnet50-*.pth`, in the torch hub cache
///   `$TORCH_HOME/hub/checkpoints`, else `$XDG_CACHE_HOME/torch/hub/checkpoints`, else
///   `~/.cache/torch/hub/checkpoints`.
/// - `ORG/NAME` or `NAME` (e.g. `google/vit-base-patch16-224`, `bert-base-uncased`): the snapshot
///   `models--ORG--NAME/snapshots/REV/` that `models--ORG--NAME/refs/main` names, in the Hugging Face hub
///   cache `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
///   `~/.cache/huggingface/hub`.
///
/// Nothing is downloaded. When nothing is found, the error lists every place looked at.
public struct CheckpointResolver: Sendable {
    /// The environment the cache locations are read from.
    public var environment: [String: String]
    /// The home folder (`~`).
    public var home: String

    /// A resolver over the process's environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                home: String = NSHomeDirectory()) {
        self.environment = environment
        self.home = home
    }

    /// torchvision's published file names, newest weights last (both are accepted; the first found is used).
    public static let torchvisionFiles: [String: [String]] = [
        "resnet18": ["resnet18-f37072fd.pth", "resnet18-5c106cde.pth"],
        "resnet34": ["resnet34-b627a593.pth", "resnet34-333f7ec4.pth"],
        "resnet50": ["resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth", "resnet50-19c8e357.pth"],
        "resnet101": ["resnet101-63fe2227.pth", "resnet101-cd907fc2.pth", "resnet101-5d3b4d8f.pth"],
        "resnet152": ["resnet152-394f9c45.pth", "resnet152-f82ba261.pth", "resnet152-b121ed2d.pth"],
    ]

    /// Whether `text` has the form of a hub name (`NAME`, `ORG/NAME` or `torchvision/NAME`) rather than a path
    /// (callers still prefer a path of that name when one exists).
    public static func looksLikeName(_ text: String) -> Bool {
        guard !text.isEmpty, !text.hasPrefix("/"), !text.hasPrefix("."), !text.hasPrefix("~") else { return false }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let extensions = [".pth", ".pt", ".bin", ".safetensors", ".json"]
        return parts.count <= 2 && parts.allSatisfy { !$0.isEmpty } && !extensions.contains { text.hasSuffix($0) }
    }

    /// The torch hub checkpoints folder.
    public var torchHubCheckpoints: URL {
        let torchHome = environment["TORCH_HOME"].map(expand)
            ?? (environment["XDG_CACHE_HOME"].map(expand) ?? home + "/.cache") + "/torch"
        return URL(fileURLWithPath: torchHome).appendingPathComponent("hub/checkpoints")
    }

    /// The Hugging Face hub cache folder.
    public var huggingFaceHubCache: URL {
        if let cache = environment["HF_HUB_CACHE"] { return URL(fileURLWithPath: expand(cache)) }
        let hfHome = environment["HF_HOME"].map(expand)
            ?? (environment["XDG_CACHE_HOME"].map(expand) ?? home + "/.cache") + "/huggingface"
        return URL(fileURLWithPath: hfHome).appendingPathComponent("hub")
    }

    private func expand(_ path: String) -> String {
        path == "~" || path.hasPrefix("~/") ? home + path.dropFirst() : path
    }

    /// The checkpoint named `name`: a torch hub file for `torchvision/…`, else a Hugging Face snapshot
    /// folder; `ModelError.checkpointNotFound` lists the places looked at.
    public func resolve(_ name: String) throws -> URL {
        var searched: [String] = []
        let parts = name.split(separator: "/").map(String.init)
        if parts.count == 2, parts[0] == "torchvision" {
            if let file = torchHubFile(parts[1], searched: &searched) { return file }
        } else if let snapshot = huggingFaceSnapshot(name, searched: &searched) {
            return snapshot
        }
        throw ModelError.checkpointNotFound(name: name, searched: searched)
    }

    private func torchHubFile(_ model: String, searched: inout [String]) -> URL? {
        let folder = torchHubCheckpoints
        let files = FileManager.default
        for file in CheckpointResolver.torchvisionFiles[model] ?? [] {
            let url = folder.appendingPathComponent(file)
            if files.fileExists(atPath: url.path) { return url }
            searched.append(url.path)
        }
        let pattern = "\(model)-*.pth"
        let matches = ((try? files.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasPrefix(model + "-") && $0.hasSuffix(".pth") }
            .sorted()
        searched.append(folder.appendingPathComponent(pattern).path)
        return matches.first.map { folder.appendingPathComponent($0) }
    }

    private func huggingFaceSnapshot(_ name: String, searched: inout [String]) -> URL? {
        let repo = huggingFaceHubCache.appendingPathComponent("models--" + name.replacingOccurrences(of: "/", with: "--"))
        let ref = repo.appendingPathComponent("refs/main")
        searched.append(ref.path)
        guard let revision = try? String(contentsOf: ref, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
              !revision.isEmpty, !revision.contains("/") else { return nil }
        let snapshot = repo.appendingPathComponent("snapshots").appendingPathComponent(revision)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: snapshot.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            searched.append(snapshot.path)
            return nil
        }
        return snapshot
    }
}
