import Foundation
import StrataSchema
import Testing

@Suite struct SchemaValidatorTests {
    @Test func reportsEveryViolationWithItsPath() throws {
        let validator = try SchemaValidator(schemaJSON: """
        {"type": "object", "required": ["a"], "additionalProperties": false,
         "properties": {"a": {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 2},
                        "b": {"$ref": "#/$defs/b"}},
         "$defs": {"b": {"type": "string", "pattern": "^x+$"}}}
        """)
        #expect(validator.violations(of: ["a": [1, 2]]).isEmpty)
        let found = validator.violations(of: ["a": [1, -1, 2.5], "b": "xy", "c": true] as [String: Any])
        #expect(found.map(\.key) == ["a", "a[1]", "a[2]", "b", "c"])
        #expect(found[1].reason == "must be at least 0, found -1")
        #expect(found[2].reason == "must be an integer, found a number")
        #expect(validator.violations(of: [String: Any]()).map(\.description) == ["a is required"])
        #expect(validator.violations(of: ["a": true] as [String: Any]).first?.reason == "must be an array, found a boolean")
    }

    @Test func misspeltKeysAndValuesGetASuggestion() throws {
        let validator = try SchemaValidator(schemaJSON: """
        {"type": "object", "additionalProperties": false,
         "properties": {"dim": {"type": "integer"}, "kind": {"enum": ["projector", "pyramid"]}, "learning_rate": {"type": "number"}}}
        """)
        let found = validator.violations(of: ["dimm": 3, "kind": "projecter", "learning_rat": 0.1] as [String: Any])
        #expect(found.map(\.description) == [
            "dimm is not a known key (did you mean dim? known: dim, kind, learning_rate)",
            "kind must be one of \"projector\", \"pyramid\", found \"projecter\" (did you mean \"projector\"?)",
            "learning_rat is not a known key (did you mean learning_rate? known: dim, kind, learning_rate)",
        ])
        // Far from every known name: no guess.
        #expect(validator.violations(of: ["colour": 1] as [String: Any]).first?.reason == "is not a known key (known: dim, kind, learning_rate)")
        #expect(KeySuggestion.closest(to: "tset", among: ["test", "rest"]) == "test")
    }
}

@Suite struct JSONDocumentTests {
    @Test func differencesNameEachKeyWithUnescapedValues() {
        let old: [String: Any] = ["dataset": ["images": "/tmp/coco-mimi", "limit": 4], "batch": ["images": 4]]
        let new: [String: Any] = ["dataset": ["images": "/tmp/coco-mini"], "batch": ["images": 4], "levels": [["name": "c3"]]]
        #expect(JSONDocument.differences(from: old, to: new) == [
            "dataset.images: \"/tmp/coco-mimi\" → \"/tmp/coco-mini\"",
            "dataset.limit: 4 → (absent)",
            "levels[0].name: (absent) → \"c3\"",
        ])
        #expect(JSONDocument.differences(from: old, to: old).isEmpty)
    }
}
