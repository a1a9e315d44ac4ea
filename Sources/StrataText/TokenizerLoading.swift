import Foundation

extension BertTokenizer {
    /// Loads the tokenizer of a checkpoint folder.
    ///
    /// `tokenizer.json` (Hugging Face `tokenizers`), when present, gives the vocabulary, normalizer,
    /// special and added tokens. Otherwise `vocab.txt` gives the vocabulary and `tokenizer_config.json`,
    /// when present, the lower-casing, accent stripping, Chinese splitting and special tokens.
    /// `tokenizer_config.json`'s `model_max_length` is read in both cases.
    public convenience init(directory: URL) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        let vocabTxt = directory.appendingPathComponent("vocab.txt")
        let configFile = directory.appendingPathComponent("tokenizer_config.json")
        let files = FileManager.default
        let config = files.fileExists(atPath: configFile.path) ? try Self.readObject(configFile) : nil
        var configuration: TokenizerConfiguration
        let vocabulary: Vocabulary
        if files.fileExists(atPath: json.path) {
            (vocabulary, configuration) = try Self.parseTokenizerJSON(json)
        } else if files.fileExists(atPath: vocabTxt.path) {
            vocabulary = try Vocabulary.load(vocabTxt: vocabTxt)
            configuration = try Self.configuration(tokenizerConfig: config, file: configFile.path)
            configuration.addedTokens = configuration.addedTokens.filter { vocabulary.id(of: $0) != nil }
        } else {
            throw TextError.missingVocabulary(directory: directory.path)
        }
        if let length = config?["model_max_length"] as? NSNumber, length.doubleValue >= 1, length.doubleValue < 1e9 {
            configuration.modelMaxLength = length.intValue
        }
        try self.init(vocabulary: vocabulary, configuration: configuration, source: directory.path)
    }

    static func readObject(_ url: URL) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TextError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        return try object(data, file: url.path)
    }

    static func object(_ data: Data, file: String) throws -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TextError.invalidConfiguration(file: file, reason: "not valid JSON: \(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw TextError.invalidConfiguration(file: file, reason: "expected a JSON object at the top level")
        }
        return dictionary
    }

    /// A special token of `tokenizer_config.json`: a string or an `AddedToken` object with `content`.
    private static func tokenText(_ value: Any?) -> String? {
        if let text = value as? String { return text }
        return (value as? [String: Any])?["content"] as? String
    }

    static func configuration(tokenizerConfig config: [String: Any]?, file: String) throws -> TokenizerConfiguration {
        var configuration = TokenizerConfiguration()
        guard let config else { return configuration }
        if let lower = config["do_lower_case"] as? Bool { configuration.normalizer.lowercase = lower }
        if let strip = config["strip_accents"] as? Bool { configuration.normalizer.stripAccents = strip }
        if let chinese = config["tokenize_chinese_chars"] as? Bool { configuration.normalizer.splitChineseCharacters = chinese }
        if let token = tokenText(config["unk_token"]) { configuration.unknownToken = token }
        if let token = tokenText(config["cls_token"]) { configuration.classifierToken = token }
        if let token = tokenText(config["sep_token"]) { configuration.separatorToken = token }
        if let token = tokenText(config["pad_token"]) { configuration.paddingToken = token }
        let mask = tokenText(config["mask_token"]) ?? "[MASK]"
        configuration.addedTokens = [configuration.paddingToken, configuration.unknownToken, configuration.classifierToken,
                                     configuration.separatorToken, mask]
        return configuration
    }

    static func parseTokenizerJSON(_ url: URL) throws -> (Vocabulary, TokenizerConfiguration) {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TextError.unreadable(file: file, reason: error.localizedDescription)
        }
        let root = try object(data, file: file)
        func fail(_ reason: String) -> TextError { .invalidConfiguration(file: file, reason: reason) }

        guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece" else {
            throw fail("model must be a WordPiece model")
        }
        var scanner = VocabularyJSONScanner(bytes: Array(data), file: file)
        var entries = try scanner.modelVocabulary()
        if let bad = entries.first(where: { $0.id < 0 }) { throw fail("vocab entry \(bad.token) has a negative id") }
        let addedTokens = root["added_tokens"] as? [[String: Any]] ?? []
        let known = Set(entries.map(\.id))
        for token in addedTokens {
            if let content = token["content"] as? String, let id = (token["id"] as? NSNumber)?.intValue, !known.contains(id) {
                entries.append((content, id))
            }
        }
        entries.sort { $0.id < $1.id }
        let prefix = model["continuing_subword_prefix"] as? String ?? "##"
        let vocabulary = Vocabulary(entries: entries, continuingSubwordPrefix: prefix)

        var configuration = TokenizerConfiguration()
        configuration.unknownToken = model["unk_token"] as? String ?? "[UNK]"
        if let limit = (model["max_input_chars_per_word"] as? NSNumber)?.intValue { configuration.maxInputCharactersPerWord = limit }

        switch root["normalizer"] {
        case let normalizer as [String: Any]:
            guard normalizer["type"] as? String == "BertNormalizer" else {
                throw fail("normalizer \(normalizer["type"] ?? "?") is not supported (only BertNormalizer)")
            }
            configuration.normalizer = NormalizerOptions(
                cleanText: normalizer["clean_text"] as? Bool ?? true,
                splitChineseCharacters: normalizer["handle_chinese_chars"] as? Bool ?? true,
                stripAccents: normalizer["strip_accents"] as? Bool,
                lowercase: normalizer["lowercase"] as? Bool ?? true)
        default:
            configuration.normalizer = NormalizerOptions(cleanText: false, splitChineseCharacters: false, stripAccents: false, lowercase: false)
        }
        if let pre = root["pre_tokenizer"] as? [String: Any], pre["type"] as? String != "BertPreTokenizer" {
            throw fail("pre_tokenizer \(pre["type"] ?? "?") is not supported (only BertPreTokenizer)")
        }

        if let post = root["post_processor"] as? [String: Any] {
            switch post["type"] as? String {
            case "BertProcessing":
                guard let cls = (post["cls"] as? [Any])?.first as? String, let sep = (post["sep"] as? [Any])?.first as? String else {
                    throw fail("BertProcessing needs cls and sep")
                }
                configuration.classifierToken = cls
                configuration.separatorToken = sep
            case "TemplateProcessing":
                let single = (post["single"] as? [[String: Any]]) ?? []
                let specials = single.compactMap { ($0["SpecialToken"] as? [String: Any])?["id"] as? String }
                guard specials.count == 2, let cls = specials.first, let sep = specials.last else {
                    throw fail("TemplateProcessing must have the BERT form [CLS] $A [SEP]")
                }
                configuration.classifierToken = cls
                configuration.separatorToken = sep
            default:
                throw fail("post_processor \(post["type"] ?? "?") is not supported (BertProcessing or TemplateProcessing)")
            }
        }
        if let padding = root["padding"] as? [String: Any], let token = padding["pad_token"] as? String {
            configuration.paddingToken = token
        }
        var added: [String] = []
        for token in addedTokens {
            guard let content = token["content"] as? String else { continue }
            if token["normalized"] as? Bool == true {
                throw fail("added token \(content) is matched on normalized text, which is not supported")
            }
            added.append(content)
        }
        configuration.addedTokens = added
        return (vocabulary, configuration)
    }
}
