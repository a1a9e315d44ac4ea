import Foundation
import Testing
import StrataTestSupport
@testable import StrataText

/// Loading checkpoint folders in their different shapes, and the errors of bad inputs.
@Suite struct LoadingTests {
    /// A folder with copies of some of the checkpoint's tokenizer files.
    private func folder(with files: [String], config: [String: Any]? = nil) throws -> URL {
        let folder = try SharedData.temporaryDirectory("strata-text")
        let source = try Checkpoint.directory()
        for file in files {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        if let config {
            try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        }
        return folder
    }

    @Test func tokenizerJSONGivesTheCheckpointSettings() throws {
        let tokenizer = try Checkpoint.base.get()
        #expect(tokenizer.vocabulary.count == 30522)
        #expect([tokenizer.paddingId, tokenizer.unknownId, tokenizer.classifierId, tokenizer.separatorId] == [0, 100, 101, 102])
        #expect(tokenizer.configuration.normalizer == NormalizerOptions(cleanText: true, splitChineseCharacters: true, stripAccents: nil, lowercase: true))
        #expect(tokenizer.configuration.modelMaxLength == 512)
        #expect(Set(tokenizer.configuration.addedTokens) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        #expect(tokenizer.vocabulary.token(of: 2158) == "man")
    }

    @Test func vocabTxtAloneEncodesLikeTokenizerJSON() throws {
        let folder = try folder(with: ["vocab.txt"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let fromVocab = try BertTokenizer(directory: folder)
        let fromJSON = try Checkpoint.base.get()
        let texts = try Goldens.load().cases.filter { $0.name.hasPrefix("coco/") || $0.name.hasPrefix("hard/") }.map(\.text)
        #expect(try fromVocab.encodeBatch(texts) == fromJSON.encodeBatch(texts))
        #expect(fromVocab.configuration.modelMaxLength == nil)
    }

    @Test func tokenizerConfigSetsCasingAndLength() throws {
        let folder = try folder(with: ["vocab.txt"], config: [
            "do_lower_case": false, "strip_accents": true, "tokenize_chinese_chars": false, "model_max_length": 64,
            "unk_token": ["content": "[UNK]", "lstrip": false],
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenizer = try BertTokenizer(directory: folder)
        #expect(tokenizer.configuration.normalizer == NormalizerOptions(cleanText: true, splitChineseCharacters: false, stripAccents: true, lowercase: false))
        #expect(tokenizer.configuration.modelMaxLength == 64)
        let goldens = try Goldens.load()
        let golden = try #require(goldens.cases.first { $0.name == "strip_no_lowercase/6" })
        // The golden was made with Chinese splitting on; this text has no CJK, so the options agree.
        #expect(try tokenizer.encode(golden.text) == golden.expected)
    }

    @Test func missingFolderAndTokensAreReported() throws {
        let empty = try SharedData.temporaryDirectory("strata-text")
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TextError.missingVocabulary(directory: empty.path)) { try BertTokenizer(directory: empty) }
        let vocabulary = Vocabulary(entries: [("[CLS]", 0), ("[SEP]", 1), ("a", 2)])
        #expect(throws: TextError.missingToken(token: "[UNK]", file: "vocabulary")) { try BertTokenizer(vocabulary: vocabulary) }
        try Data("{\"model\": {\"type\": \"BPE\"}}".utf8).write(to: empty.appendingPathComponent("tokenizer.json"))
        #expect(throws: TextError.self) { try BertTokenizer(directory: empty) }
    }

    @Test func badOptionsAndPairCountsAreReported() throws {
        let tokenizer = try Checkpoint.base.get()
        #expect(throws: TextError.pairCountMismatch(texts: 2, pairs: 1)) { try tokenizer.encodeBatch(["a", "b"], pairs: ["c"]) }
        #expect(throws: TextError.invalidOption(name: "padToMultipleOf", value: 0)) {
            try tokenizer.encode("a", options: EncodingOptions(padding: .longest, padToMultipleOf: 0))
        }
        #expect(throws: TextError.invalidOption(name: "maxLength", value: -1)) { try tokenizer.encode("a", options: EncodingOptions(maxLength: -1)) }
    }

    @Test func tokenizerJSONKeepsCanonicallyEquivalentTokensApart() throws {
        let folder = try SharedData.temporaryDirectory("strata-text")
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = #"""
            {"added_tokens": [], "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
             "strip_accents": false, "lowercase": false}, "pre_tokenizer": {"type": "BertPreTokenizer"},
             "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
             "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": {"[PAD]": 3, "[UNK]": 0, "[CLS]": 1, "[SEP]": 2,
              "\u00e9": 4, "e\u0301": 5, "\ud83d\ude00": 6, "a\"b": 7, "##\u00e9": 8}}}
            """#
        try Data(json.utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
        let tokenizer = try BertTokenizer(directory: folder)
        #expect(tokenizer.vocabulary.count == 9)
        #expect(try tokenizer.encode("\u{e9} e\u{301} \u{1F600} \u{e9}\u{e9}").ids == [1, 4, 5, 6, 4, 8, 2])
        #expect(tokenizer.vocabulary.token(of: 7) == "a\"b")
    }

    @Test func vocabularyLinesDropTrailingWhitespaceAndLaterDuplicatesWin() throws {
        let folder = try SharedData.temporaryDirectory("strata-text")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("vocab.txt")
        try Data("[PAD]\n[UNK]\r\n[CLS] \n[SEP]\t\nhello\n##s\nhello\n".utf8).write(to: file)
        let vocabulary = try Vocabulary.load(vocabTxt: file)
        #expect(vocabulary.count == 7)
        #expect(vocabulary.id(of: "[UNK]") == 1)
        #expect(vocabulary.id(of: "[SEP]") == 3)
        #expect(vocabulary.id(of: "hello") == 6)
        let tokenizer = try BertTokenizer(vocabulary: vocabulary)
        let encoding = try tokenizer.encode("Hellos, hello")
        #expect(encoding.ids == [2, 6, 5, 1, 6, 3])
        #expect(encoding.offsets.map(\.start) == [0, 0, 5, 6, 8, 0])
    }
}
