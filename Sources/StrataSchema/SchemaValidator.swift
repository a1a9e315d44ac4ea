import Foundation

/// Validates JSON-like values (from YAML or JSON) against the subset of JSON Schema that Strata's
/// schemas use: `type` (one or several), `properties`, `required`, `additionalProperties: false`,
/// `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `pattern`, `items`,
/// `minItems`, `maxItems`, `$ref` to `#/$defs/...`, and `description` (ignored).
///
/// Each violation is reported with the dotted path of the offending key, e.g. `encoders.image.levels[2].dtype`.
public struct SchemaValidator {
    /// One place where a value breaks the schema.
    public struct Violation: Equatable, Sendable, CustomStringConvertible {
        /// Dotted path of the key (empty for the document itself).
        public let key: String
        /// What is wrong, phrased to follow the key ("must be one of ...").
        public let reason: String
        public var description: String { key.isEmpty ? reason : "\(key) \(reason)" }
    }

    private let root: [String: Any]

    /// A validator for a schema given as parsed JSON.
    public init(schema: [String: Any]) {
        root = schema
    }

    /// A validator for a schema given as JSON text.
    public init(schemaJSON: String) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(schemaJSON.utf8))
        } catch {
            throw SchemaError.invalidSchema(reason: "is not JSON: \(error.localizedDescription)")
        }
        guard let object = parsed as? [String: Any] else {
            throw SchemaError.invalidSchema(reason: "is not a JSON object")
        }
        root = object
    }

    /// Every violation of the schema by `value`, in document order.
    public func violations(of value: Any) -> [Violation] {
        var found: [Violation] = []
        check(value, against: root, key: "", into: &found)
        return found
    }

    private func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let reference = schema["$ref"] as? String, reference.hasPrefix("#/$defs/"),
              let definitions = root["$defs"] as? [String: Any],
              let target = definitions[String(reference.dropFirst("#/$defs/".count))] as? [String: Any] else {
            return schema
        }
        return resolve(target)
    }

    private func check(_ value: Any, against rawSchema: [String: Any], key: String, into found: inout [Violation]) {
        let schema = resolve(rawSchema)
        func fail(_ reason: String) { found.append(Violation(key: key, reason: reason)) }

        if let allowed = SchemaValidator.types(of: schema) {
            let actual = SchemaValidator.jsonType(of: value)
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            guard matches else {
                fail("must be \(allowed.map(SchemaValidator.article).joined(separator: " or ")), found \(SchemaValidator.article(actual))")
                return
            }
        }
        if let constant = schema["const"], !SchemaValidator.equal(constant, value) {
            fail("must be \(SchemaValidator.render(constant)), found \(SchemaValidator.render(value))")
        }
        if let options = schema["enum"] as? [Any], !options.contains(where: { SchemaValidator.equal($0, value) }) {
            let hint = (value as? String).flatMap { KeySuggestion.closest(to: $0, among: options.compactMap { $0 as? String }) }
            fail("must be one of \(options.map(SchemaValidator.render).joined(separator: ", ")), found \(SchemaValidator.render(value))"
                 + (hint.map { " (did you mean \"\($0)\"?)" } ?? ""))
        }
        if let number = SchemaValidator.number(value) {
            if let minimum = schema["minimum"].flatMap(SchemaValidator.number), number < minimum {
                fail("must be at least \(SchemaValidator.render(minimum)), found \(SchemaValidator.render(number))")
            }
            if let maximum = schema["maximum"].flatMap(SchemaValidator.number), number > maximum {
                fail("must be at most \(SchemaValidator.render(maximum)), found \(SchemaValidator.render(number))")
            }
            if let bound = schema["exclusiveMinimum"].flatMap(SchemaValidator.number), number <= bound {
                fail("must be greater than \(SchemaValidator.render(bound)), found \(SchemaValidator.render(number))")
            }
            if let bound = schema["exclusiveMaximum"].flatMap(SchemaValidator.number), number >= bound {
                fail("must be less than \(SchemaValidator.render(bound)), found \(SchemaValidator.render(number))")
            }
        }
        if let text = value as? String {
            if let minLength = schema["minLength"] as? Int, text.count < minLength {
                fail(minLength == 1 ? "must not be empty" : "must have at least \(minLength) characters")
            }
            if let pattern = schema["pattern"] as? String,
               text.range(of: pattern, options: .regularExpression) == nil {
                fail("must match \(pattern), found \"\(text)\"")
            }
        }
        if let array = value as? [Any] {
            if let minItems = schema["minItems"] as? Int, array.count < minItems {
                fail("must have at least \(minItems) item\(minItems == 1 ? "" : "s"), found \(array.count)")
            }
            if let maxItems = schema["maxItems"] as? Int, array.count > maxItems {
                fail("must have at most \(maxItems) item\(maxItems == 1 ? "" : "s"), found \(array.count)")
            }
            if let itemSchema = schema["items"] as? [String: Any] {
                for (offset, element) in array.enumerated() {
                    check(element, against: itemSchema, key: "\(key)[\(offset)]", into: &found)
                }
            }
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in (schema["required"] as? [String] ?? []) where object[name] == nil {
                found.append(Violation(key: SchemaValidator.join(key, name), reason: "is required"))
            }
            for name in object.keys.sorted() {
                let childKey = SchemaValidator.join(key, name)
                if let childSchema = properties[name] as? [String: Any] {
                    check(object[name] as Any, against: childSchema, key: childKey, into: &found)
                } else if (schema["additionalProperties"] as? Bool) == false {
                    let known = properties.keys.sorted()
                    let hint = KeySuggestion.closest(to: name, among: known).map { "did you mean \($0)? " } ?? ""
                    found.append(Violation(key: childKey, reason: "is not a known key (\(hint)known: \(known.joined(separator: ", ")))"))
                }
            }
        }
    }

    private static func join(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : "\(parent).\(name)"
    }

    private static func types(of schema: [String: Any]) -> [String]? {
        if let single = schema["type"] as? String { return [single] }
        return schema["type"] as? [String]
    }

    /// The JSON Schema type name of a parsed value (from JSONSerialization or Yams).
    public static func jsonType(of value: Any) -> String {
        if value is NSNull { return "null" }
        if value is String { return "string" }
        if value is [Any] { return "array" }
        if value is [String: Any] { return "object" }
        if type(of: value) == Bool.self { return "boolean" }
        if let number = number(value) {
            return number.rounded() == number && number.isFinite ? "integer" : "number"
        }
        if let number = value as? NSNumber, number.objCType.pointee == CChar(UInt8(ascii: "c")) { return "boolean" }
        return "unknown"
    }

    /// The numeric value of a parsed number; nil for booleans and everything else.
    public static func number(_ value: Any) -> Double? {
        if type(of: value) == Bool.self { return nil }
        if let int = value as? Int, type(of: value) == Int.self { return Double(int) }
        if let double = value as? Double, type(of: value) == Double.self { return double }
        if let number = value as? NSNumber, !(value is String),
           number.objCType.pointee != CChar(UInt8(ascii: "c")) { return number.doubleValue }
        return nil
    }

    private static func article(_ type: String) -> String {
        switch type {
        case "integer", "array", "object": return "an \(type)"
        case "null": return "null"
        default: return "a \(type)"
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        if let x = a as? String, let y = b as? String { return x == y }
        if jsonType(of: a) == "boolean", jsonType(of: b) == "boolean" { return boolean(a) == boolean(b) }
        return jsonType(of: a) == "null" && jsonType(of: b) == "null"
    }

    private static func boolean(_ value: Any) -> Bool {
        (value as? Bool) ?? (value as? NSNumber)?.boolValue ?? false
    }

    private static func render(_ value: Any) -> String {
        if let text = value as? String { return "\"\(text)\"" }
        if let double = number(value) {
            return double.rounded() == double && abs(double) < 1e15 ? String(Int64(double)) : String(double)
        }
        switch jsonType(of: value) {
        case "boolean": return boolean(value) ? "true" : "false"
        case "null": return "null"
        case "array": return "an array"
        case "object": return "an object"
        default: return "\(value)"
        }
    }
}
