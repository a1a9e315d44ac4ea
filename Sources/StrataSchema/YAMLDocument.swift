import Foundation
import Yams

extension JSONDocument {
    /// The largest YAML document read (pipeline and head files are a few KiB).
    public static let maxYAMLBytes = 1 << 20
    /// The most values a YAML document may expand to once its aliases are followed (an alias bomb's
    /// nested `*a` references would otherwise grow without bound).
    public static let maxYAMLValues = 100_000

    /// Parses YAML `text` within those bounds: the representation tree shares aliased nodes, so it is
    /// counted (stopping at the bound) before it is expanded into values.
    public static func loadYAML(_ text: String) throws -> Any? {
        guard text.utf8.count <= maxYAMLBytes else {
            throw YAMLBound(description: "the document has \(text.utf8.count) bytes; at most \(maxYAMLBytes) are read")
        }
        guard let node = try Yams.compose(yaml: text) else { return nil }
        var budget = maxYAMLValues
        count(node, budget: &budget)
        guard budget >= 0 else {
            throw YAMLBound(description: "the document expands to more than \(maxYAMLValues) values (aliases referring to aliases?)")
        }
        return node.any
    }

    private static func count(_ node: Node, budget: inout Int) {
        budget -= 1
        guard budget >= 0 else { return }
        switch node {
        case let .mapping(mapping):
            for (key, value) in mapping {
                count(key, budget: &budget)
                count(value, budget: &budget)
                if budget < 0 { return }
            }
        case let .sequence(sequence):
            for element in sequence {
                count(element, budget: &budget)
                if budget < 0 { return }
            }
        default:
            break
        }
    }
}

/// A YAML document beyond `JSONDocument`'s size or expansion bounds.
public struct YAMLBound: Error, CustomStringConvertible {
    public let description: String
}
