import Foundation

/// JSON-like documents as the schema validator and the key-by-key comparison take them.
public enum JSONDocument {
    /// Turns a YAML parser's output into JSONSerialization-compatible values (string keys, no custom types).
    public static func normalize(_ value: Any) -> Any {
        if let mapping = value as? [AnyHashable: Any] {
            var result: [String: Any] = [:]
            for (key, element) in mapping { result[String(describing: key.base)] = normalize(element) }
            return result
        }
        if let mapping = value as? [String: Any] { return mapping.mapValues(normalize) }
        if let sequence = value as? [Any] { return sequence.map(normalize) }
        return value
    }

    /// Keys whose values differ between two documents, as `dotted.key: old → new` (values as JSON,
    /// slashes unescaped, `(absent)` for a missing key), sorted by key.
    public static func differences(from old: Any, to new: Any) -> [String] {
        let before = flatten(old), after = flatten(new)
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            let a = before[key], b = after[key]
            if a == b { return nil }
            return "\(key): \(a ?? "(absent)") → \(b ?? "(absent)")"
        }
    }

    /// Leaf values by dotted path (`a.b[2].c`), rendered as JSON fragments with sorted keys and
    /// unescaped slashes.
    public static func flatten(_ value: Any, prefix: String = "") -> [String: String] {
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
            return result
        }
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
        return [prefix: String(decoding: data, as: UTF8.self)]
    }
}
