import Foundation

extension PyramidLevel {
    /// Parses the written form: `OUTPUT`, `OUTPUT:poolHxW` (or `OUTPUT:poolN` for an N×N grid),
    /// `OUTPUT:cls` or `OUTPUT:mean`, e.g. `layer2:pool7x7` or `last_hidden_state:mean`.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), let output = parts.first, !output.isEmpty else {
            throw ModelError.badLevelSpec(text: text, reason: "expected OUTPUT or OUTPUT:poolHxW / OUTPUT:cls / OUTPUT:mean")
        }
        guard output.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
            throw ModelError.badLevelSpec(text: text, reason: "output name '\(output)' may hold only letters, digits, '_' and '.'")
        }
        guard parts.count == 2 else {
            self.init(output: output)
            return
        }
        let modifier = parts[1]
        if let reduction = Reduction(rawValue: modifier), reduction != .none {
            self.init(output: output, reduce: reduction)
            return
        }
        guard modifier.hasPrefix("pool") else {
            throw ModelError.badLevelSpec(text: text, reason: "unknown modifier '\(modifier)' (poolHxW, cls or mean)")
        }
        let sizes = modifier.dropFirst(4).split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(sizes.count), let height = sizes[0], let width = sizes.last ?? nil, height >= 1, width >= 1 else {
            throw ModelError.badLevelSpec(text: text, reason: "pool size must be HxW or N with sizes >= 1, got '\(modifier.dropFirst(4))'")
        }
        self.init(output: output, pool: [height, width])
    }

    /// Parses a comma-separated list of levels, e.g. `layer2:pool7x7,layer4,avgpool`.
    public static func parseList(_ text: String) throws -> [PyramidLevel] {
        try text.split(separator: ",").map { try PyramidLevel(parsing: String($0)) }
    }
}
