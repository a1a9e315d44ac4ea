import ArgumentParser
import Foundation
import StrataText

/// `strata tokenize`: encodes texts with a checkpoint's BERT tokenizer and prints them as JSON lines.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts (one per line, or tab-separated pairs) as Hugging Face's BERT tokenizer does.",
        discussion: """
            Prints one JSON object per input line with input_ids, token_type_ids, attention_mask and \
            offsets (character offsets into the line, [0, 0] for special and padding tokens). Texts are \
            truncated to --max-length (default: the checkpoint's model_max_length), pairs longest first.
            """
    )

    enum PaddingMode: String, ExpressibleByArgument, CaseIterable {
        case maxLength = "max_length"
        case longest
    }

    @Option(name: .long, help: "Checkpoint folder with tokenizer.json or vocab.txt (and tokenizer_config.json).")
    var tokenizer: String

    @Option(name: .long, help: "Truncate to this many tokens, special tokens included.")
    var maxLength: Int?

    @Option(name: .long, help: "Pad to --max-length (max_length) or to the longest encoding of the input (longest).")
    var padding: PaddingMode?

    @Flag(name: .long, help: "Each line is a pair of texts separated by a tab.")
    var pairs = false

    @Option(name: .long, help: "Tokenizing threads (default: one per core).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: "Input file (default: standard input).")
    var input: String?

    func validate() throws {
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1, got \(maxLength)") }
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: self.tokenizer))
        let limit = maxLength ?? tokenizer.configuration.modelMaxLength
        var options = EncodingOptions(maxLength: limit)
        switch padding {
        case .none: break
        case .longest: options.padding = .longest
        case .maxLength:
            guard let limit else {
                throw ValidationError("--padding max_length needs --max-length: \(self.tokenizer) gives no model_max_length")
            }
            options.padding = .length(limit)
        }
        let lines = try readLines()
        var texts: [String] = [], seconds: [String] = []
        texts.reserveCapacity(lines.count)
        for (number, line) in lines.enumerated() {
            if pairs {
                guard let tab = line.firstIndex(of: "\t") else {
                    throw TokenizeFailure(description: "line \(number + 1) has no tab: --pairs needs `text<TAB>pair` lines")
                }
                texts.append(String(line[..<tab]))
                seconds.append(String(line[line.index(after: tab)...]))
            } else {
                texts.append(line)
            }
        }
        let encodings = try tokenizer.encodeBatch(texts, pairs: pairs ? seconds : nil, options: options, threads: threads)
        var output = ""
        for encoding in encodings {
            output += Self.json(encoding)
            output += "\n"
            if output.utf8.count > 1 << 20 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// The input lines, without line terminators (`\n` or `\r\n`).
    private func readLines() throws -> [String] {
        let data: Data
        if let input {
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw TokenizeFailure(description: "cannot read \(input): \(error.localizedDescription)")
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> String in
            let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            return String(decoding: bytes, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// One encoding as a JSON object.
    static func json(_ encoding: Encoding) -> String {
        func list(_ values: [Int32]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }
        let offsets = encoding.offsets.map { "[\($0.start),\($0.end)]" }.joined(separator: ",")
        return "{\"input_ids\":\(list(encoding.ids)),\"token_type_ids\":\(list(encoding.typeIds)),"
            + "\"attention_mask\":\(list(encoding.attentionMask)),\"offsets\":[\(offsets)]}"
    }
}

/// A failure of `strata tokenize` that is about the input, not the command line.
struct TokenizeFailure: Error, CustomStringConvertible {
    let description: String
}
