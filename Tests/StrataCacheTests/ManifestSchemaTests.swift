import Foundation
import Testing
import StrataTestSupport
@testable import StrataCache

/// The manifest the writer stores against `schemas/manifest.schema.json`, checked by a small validator
/// for the keywords the schema uses (CI has no Python jsonschema).
@Suite struct ManifestSchemaTests {
    static func schema() throws -> [String: Any] {
        let url = SharedData.repositoryRoot.appendingPathComponent("schemas/manifest.schema.json")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test func writtenManifestsFollowTheSchema() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 3)
        let reader = try CacheReader(path: cache.path)
        let stored = try JSONSerialization.jsonObject(with: reader.manifest.encoded())
        #expect(SchemaCheck.problems(stored, try ManifestSchemaTests.schema()) == [])
        // Variable-length shapes are stored with a null leading dimension.
        let columns = (stored as? [String: Any])?["columns"] as? [[String: Any]] ?? []
        let tokens = columns.first { $0["name"] as? String == "text/synthetic/tokens" }
        #expect((tokens?["shape"] as? [Any])?.first is NSNull)
        #expect(try Manifest.decode(reader.manifest.encoded(), path: "x") == reader.manifest)
    }

    @Test func theSchemaRejectsBrokenManifests() throws {
        let schema = try ManifestSchemaTests.schema()
        let good = try #require(try JSONSerialization.jsonObject(with: SyntheticCache.manifest.encoded()) as? [String: Any])
        #expect(SchemaCheck.problems(good, schema) == [])
        var badDtype = good
        var columns = try #require(good["columns"] as? [[String: Any]])
        columns[0]["dtype"] = "f64"
        badDtype["columns"] = columns
        #expect(!SchemaCheck.problems(badDtype, schema).isEmpty)
        var gemmEncoders = try #require(good["encoders"] as? [[String: Any]])
        gemmEncoders[0]["gemm"] = "strata-avx512"
        var withGemm = good
        withGemm["encoders"] = gemmEncoders
        #expect(SchemaCheck.problems(withGemm, schema) == [])
        gemmEncoders[0]["gemm"] = "cublas"
        withGemm["encoders"] = gemmEncoders
        #expect(SchemaCheck.problems(withGemm, schema).count == 1)
        var missing = good
        missing.removeValue(forKey: "counts")
        #expect(SchemaCheck.problems(missing, schema) == ["$: missing 'counts'"])
        var extra = good
        extra["surprise"] = 1
        #expect(SchemaCheck.problems(extra, schema) == ["$: unexpected 'surprise'"])
        var badHash = good
        var encoders = try #require(good["encoders"] as? [[String: Any]])
        encoders[0]["weightsSHA256"] = "xyz"
        badHash["encoders"] = encoders
        #expect(SchemaCheck.problems(badHash, schema) == ["$.encoders[0].weightsSHA256: 'xyz' does not match ^[0-9a-f]{64}$"])
        #expect(throws: CacheError.self) { try Manifest.decode(Data("{\"formatVersion\": 2}".utf8), path: "x") }
    }
}

/// Checks JSON against the JSON Schema keywords the manifest schema uses: type, enum, required,
/// properties, additionalProperties, items, prefixItems, minimum, minItems, maxItems, minLength, pattern.
enum SchemaCheck {
    static func problems(_ value: Any, _ schema: [String: Any], at path: String = "$") -> [String] {
        var found: [String] = []
        if let types = schema["type"].map({ $0 as? [String] ?? [$0 as? String ?? ""] }), !types.contains(where: { matches(value, $0) }) {
            return ["\(path): expected \(types.joined(separator: " or "))"]
        }
        if let options = schema["enum"] as? [Any], !options.contains(where: { equal($0, value) }) {
            found.append("\(path): \(value) is not one of \(options)")
        }
        if let object = value as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { found.append("\(path): missing '\(key)'") }
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for (key, item) in object.sorted(by: { $0.key < $1.key }) {
                if let sub = properties[key] {
                    found += problems(item, sub, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    found.append("\(path): unexpected '\(key)'")
                }
            }
        }
        if let array = value as? [Any] {
            if let least = schema["minItems"] as? Int, array.count < least { found.append("\(path): fewer than \(least) items") }
            if let most = schema["maxItems"] as? Int, array.count > most { found.append("\(path): more than \(most) items") }
            let prefix = schema["prefixItems"] as? [[String: Any]] ?? []
            for (index, item) in array.enumerated() {
                if index < prefix.count {
                    found += problems(item, prefix[index], at: "\(path)[\(index)]")
                } else if let items = schema["items"] as? [String: Any] {
                    found += problems(item, items, at: "\(path)[\(index)]")
                }
            }
        }
        if let number = value as? NSNumber, !(value is Bool), let minimum = schema["minimum"] as? Double, number.doubleValue < minimum {
            found.append("\(path): \(number) is below \(minimum)")
        }
        if let text = value as? String {
            if let least = schema["minLength"] as? Int, text.count < least { found.append("\(path): shorter than \(least)") }
            if let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): '\(text)' does not match \(pattern)")
            }
        }
        return found
    }

    private static func matches(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "null": return value is NSNull
        case "boolean": return isBool(value)
        case "integer":
            guard let number = value as? NSNumber, !isBool(value) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "number": return value is NSNumber && !isBool(value)
        default: return false
        }
    }

    private static func isBool(_ value: Any) -> Bool {
        // JSONSerialization gives JSON booleans their own NSNumber subclass (__NSCFBoolean).
        value is NSNumber && String(describing: type(of: value)).contains("Boolean")
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x == y }
        return false
    }
}
