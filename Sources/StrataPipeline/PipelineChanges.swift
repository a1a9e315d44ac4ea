import Foundation
import StrataSchema

/// Finds what differs between the pipeline a cache was started with and the one run now.
///
/// Keys that cannot change the cache's bytes (`workers`, `output`, `name`) are ignored, so a user may
/// resume with more workers or a moved cache.
public enum PipelineChanges {
    /// Top-level keys that do not affect what is written.
    public static let ignoredKeys: Set<String> = ["workers", "output", "name"]

    /// Dotted keys whose values differ, each with the old and new value (unescaped JSON), sorted by key.
    public static func between(stored: [String: Any], current: [String: Any]) -> [String] {
        JSONDocument.differences(from: stored.filter { !ignoredKeys.contains($0.key) },
                                 to: current.filter { !ignoredKeys.contains($0.key) })
    }
}
