import Foundation

/// A parsed JSON value together with the file and path it came from, for errors that point at it.
struct JSONNode {
    let value: Any
    let file: String
    let path: String

    /// Parses a whole file.
    static func load(_ url: URL) throws -> JSONNode {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        do {
            let value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return JSONNode(value: value, file: url.path, path: "$")
        } catch {
            throw DataError.invalidJSON(file: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    private func child(_ value: Any, _ component: String) -> JSONNode {
        JSONNode(value: value, file: file, path: path == "$" ? component : path + component)
    }

    private func wrongType(_ expected: String) -> DataError {
        .wrongType(file: file, path: path, expected: expected, found: JSONNode.typeName(value))
    }

    /// JSON booleans arrive as NSNumbers whose Objective-C type code is `c`.
    static func isBoolean(_ number: NSNumber) -> Bool {
        number.objCType.pointee == CChar(UInt8(ascii: "c"))
    }

    static func typeName(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case let number as NSNumber:
            return isBoolean(number) ? "a boolean" : "a number"
        default: return "\(type(of: value))"
        }
    }

    /// The member `key` of an object, which must be present.
    func member(_ key: String) throws -> JSONNode {
        guard let object = value as? [String: Any] else { throw wrongType("an object") }
        guard let found = object[key] else {
            throw DataError.missingKey(file: file, path: path == "$" ? key : "\(path).\(key)")
        }
        return child(found, path == "$" ? key : ".\(key)")
    }

    /// The member `key` of an object, or nil when it is absent or null.
    func optionalMember(_ key: String) throws -> JSONNode? {
        guard let object = value as? [String: Any] else { throw wrongType("an object") }
        guard let found = object[key], !(found is NSNull) else { return nil }
        return child(found, path == "$" ? key : ".\(key)")
    }

    /// The elements of an array.
    func elements() throws -> [JSONNode] {
        guard let array = value as? [Any] else { throw wrongType("an array") }
        return array.enumerated().map { child($0.element, "[\($0.offset)]") }
    }

    /// A string value.
    func string() throws -> String {
        guard let text = value as? String else { throw wrongType("a string") }
        return text
    }

    /// An integral number.
    func int() throws -> Int64 {
        guard let number = value as? NSNumber, !JSONNode.isBoolean(number) else { throw wrongType("an integer") }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 9.0e15 else { throw wrongType("an integer") }
        return number.int64Value
    }
}
