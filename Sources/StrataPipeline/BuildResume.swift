import Foundation
import StrataCache

/// How a build goes on from what its cache directory already holds, decided in one place when the
/// writer opens the cache: start it, resume it, resume it and retry the images that failed, or refuse it.
///
/// The pipeline text stored is the cache's own when the pipeline run now differs from it only in keys
/// that cannot change what is written (`workers`, `output`, `name`, or defaults spelled out). When the
/// two differ only in `dataset.images` and the cache recorded image failures, the folder was fixed: the
/// cache resumes under its stored text, and `retryWith` is the text to store once the failed images
/// were encoded again. The writer then holds the returned manifest against the stored one
/// (`Manifest.resuming(as:path:)`: encoders, gemm, columns, part).
struct BuildResume {
    /// The manifest the writer creates the cache with or resumes it under.
    var manifest: Manifest
    /// The pipeline text to store after retrying the cache's failed images, when its image folder moved.
    var retryWith: String?

    /// The decision for a build of `config` that would write `building` into `cache`, which holds `stored`.
    static func decide(stored: StoredCache?, building: Manifest, config: PipelineConfig, cache: URL) throws -> BuildResume {
        guard let stored else { return BuildResume(manifest: building, retryWith: nil) }
        let existing = stored.manifest
        if existing.pipeline == building.pipeline { return BuildResume(manifest: building, retryWith: nil) }
        var resumed = building
        resumed.pipeline = existing.pipeline
        let storedConfig = try? PipelineConfig.parse(existing.pipeline, file: "\(cache.path) (stored pipeline)",
                                                     baseDirectory: config.baseDirectory)
        if var moved = storedConfig, moved.dataset.images != config.dataset.images, existing.counts.failures > 0,
           try stored.failures().contains(where: { $0.modality == .image }) {
            moved.dataset.images = config.dataset.images
            if moved.writesTheSameCache(as: config) { return BuildResume(manifest: resumed, retryWith: building.pipeline) }
        }
        guard let storedConfig, storedConfig.writesTheSameCache(as: config) else {
            let changes = PipelineChanges.between(stored: storedConfig?.document ?? ["pipeline": existing.pipeline],
                                                  current: config.document)
            throw PipelineError.pipelineChanged(cache: cache.path, changes: changes)
        }
        return BuildResume(manifest: resumed, retryWith: nil)
    }
}
