import Foundation

/// Finds what differs between the pipeline a cache was started with and the one run now.
///
/// Keys that cannot change the cache's bytes (`workers`, `output`, `name`) are ignored, so a user may
/// resume with more workers or a moved cache.
public enum PipelineChanges {
    /// Top-level keys that do not affect what is written.
    public static let ignoredKeys: Set<String> = ["workers", "output", "name"]

    /// Dotted keys whose values differ, each with the old and new value, sorted by key.
    public static func between(stored: [String: Any], current: [String: Any]) -> [String] {
        let old = flatten(stored.filter { !ignoredKeys.contains($0.key) })
        let new = flatten(current.filter { !ignoredKeys.contains($0.key) })
        return Set(old.keys).union(new.keys).sorted().compactMap { key in
            let before = old[key], after = new[key]
            if before == after { return nil }
            return "\(key): \(before ?? "(absent)") → \(after ?? "(absent)")"
        }
    }

    /// Leaf values by dotted path, rendered as canonical JSON fragments.
    static func flatten(_ value: Any, prefix: String = "") -> [String: String] {
        if let object = value as? [String: Any] {
            var result: [String: String] = [:]
            for (key, element) in object {
                result.merge(flatten(element, prefix: prefix.isEmpty ? key : "\(prefix).\(key)")) { a, _ in a }
            }
            return result
        }
        if let array = value as? [Any], array.contains(where: { $0 is [String: Any] || $0 is [Any] }) {
            var result: [String: String] = [:]
            for (offset, element) in array.enumerated() {
                result.merge(flatten(element, prefix: "\(prefix)[\(offset)]")) { a, _ in a }
            }
            if array.isEmpty { result[prefix] = "[]" }
            return result
        }
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
        return [prefix: String(decoding: data, as: UTF8.self)]
    }
}
