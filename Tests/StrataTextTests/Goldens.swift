import Foundation
import StrataTestSupport
import StrataText

/// The fixtures made by `scripts/fixtures/make_tokenizer_goldens.py` with Hugging Face `tokenizers`.
struct Goldens {
    struct Case {
        let name: String
        let config: String
        let text: String
        let pair: String?
        let maxLength: Int?
        let padding: String?
        let expected: Encoding
    }

    struct Batch {
        let name: String
        let config: String
        let texts: [String]
        let pairs: [String]?
        let options: EncodingOptions
        let expected: [Encoding]
    }

    let configs: [String: NormalizerOptions]
    let cases: [Case]
    let batches: [Batch]

    static let shared: Result<Goldens, Error> = Result { try Goldens() }

    static func load() throws -> Goldens { try shared.get() }

    private init() throws {
        guard let url = Bundle.module.url(forResource: "Fixtures/tokenizer_goldens", withExtension: "json") else {
            throw TextError.unreadable(file: "Tests/StrataTextTests/Fixtures/tokenizer_goldens.json", reason: "not in the test bundle")
        }
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        var configs: [String: NormalizerOptions] = [:]
        for (name, value) in root["configs"] as? [String: [String: Any]] ?? [:] {
            configs[name] = NormalizerOptions(
                cleanText: value["clean_text"] as? Bool ?? true,
                splitChineseCharacters: value["handle_chinese_chars"] as? Bool ?? true,
                stripAccents: value["strip_accents"] as? Bool,
                lowercase: value["lowercase"] as? Bool ?? true)
        }
        self.configs = configs
        cases = (root["cases"] as? [[String: Any]] ?? []).map { item in
            Case(name: item["name"] as? String ?? "?", config: item["config"] as? String ?? "?",
                 text: item["text"] as? String ?? "", pair: item["pair"] as? String,
                 maxLength: item["max_length"] as? Int, padding: item["padding"] as? String,
                 expected: Self.encoding(item))
        }
        batches = (root["batches"] as? [[String: Any]] ?? []).map { item in
            let maxLength = item["max_length"] as? Int
            let padding: Padding
            switch item["padding"] as? String {
            case "longest": padding = .longest
            case "max_length": padding = .length(maxLength ?? 0)
            default: padding = .none
            }
            return Batch(name: item["name"] as? String ?? "?", config: item["config"] as? String ?? "?",
                         texts: item["texts"] as? [String] ?? [], pairs: item["pairs"] as? [String],
                         options: EncodingOptions(maxLength: maxLength, padding: padding,
                                                  padToMultipleOf: item["pad_to_multiple_of"] as? Int),
                         expected: (item["encodings"] as? [[String: Any]] ?? []).map(Self.encoding))
        }
    }

    private static func encoding(_ item: [String: Any]) -> Encoding {
        func ints(_ key: String) -> [Int32] { (item[key] as? [Int] ?? []).map(Int32.init) }
        let flat = item["offsets"] as? [Int] ?? []
        let offsets = stride(from: 0, to: flat.count - 1, by: 2).map { TextSpan(start: flat[$0], end: flat[$0 + 1]) }
        return Encoding(ids: ints("ids"), typeIds: ints("type_ids"), attentionMask: ints("attention_mask"), offsets: offsets)
    }

    /// The options of a single-case golden.
    static func options(_ golden: Case) -> EncodingOptions {
        EncodingOptions(maxLength: golden.maxLength, padding: golden.padding == "max_length" ? .length(golden.maxLength ?? 0) : .none)
    }
}

/// The checkpoint the goldens were made from.
enum Checkpoint {
    static func directory() throws -> URL { try SharedData.url("models/all-MiniLM-L6-v2") }

    static let base: Result<BertTokenizer, Error> = Result { try BertTokenizer(directory: directory()) }

    /// The checkpoint's tokenizer with the normalizer options of a golden configuration.
    static func tokenizer(_ options: NormalizerOptions) throws -> BertTokenizer {
        let base = try base.get()
        var configuration = base.configuration
        configuration.normalizer = options
        return try BertTokenizer(vocabulary: base.vocabulary, configuration: configuration)
    }
}

/// A readable difference between two encodings, or nil when they are equal.
func difference(_ actual: Encoding, _ expected: Encoding) -> String? {
    if actual.ids != expected.ids { return "ids \(actual.ids) != \(expected.ids)" }
    if actual.typeIds != expected.typeIds { return "type ids \(actual.typeIds) != \(expected.typeIds)" }
    if actual.attentionMask != expected.attentionMask { return "masks \(actual.attentionMask) != \(expected.attentionMask)" }
    if actual.offsets != expected.offsets {
        let pairs = { (o: [TextSpan]) in o.map { "(\($0.start),\($0.end))" }.joined(separator: " ") }
        return "offsets \(pairs(actual.offsets)) != \(pairs(expected.offsets))"
    }
    return nil
}
