import Foundation
import Testing
import StrataTestSupport
@testable import StrataText

/// Strata's encodings against Hugging Face `tokenizers` on every golden case.
@Suite struct ConformanceTests {
    private func check(_ prefix: String) throws {
        let goldens = try Goldens.load()
        let selected = goldens.cases.filter { $0.name.hasPrefix(prefix) }
        #expect(!selected.isEmpty)
        var tokenizers: [String: BertTokenizer] = [:]
        var failures: [String] = []
        for golden in selected {
            let options = try #require(goldens.configs[golden.config])
            let tokenizer = try tokenizers[golden.config] ?? Checkpoint.tokenizer(options)
            tokenizers[golden.config] = tokenizer
            let actual = try tokenizer.encode(golden.text, pair: golden.pair, options: Goldens.options(golden))
            if let difference = difference(actual, golden.expected) {
                failures.append("\(golden.name) \(golden.text.debugDescription): \(difference)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(selected.count) cases differ:\n\(failures.prefix(8).joined(separator: "\n"))")
    }

    @Test func allCocoCaptions() throws {
        let goldens = try Goldens.load()
        #expect(goldens.cases.filter { $0.name.hasPrefix("coco/") }.count == 795)
        try check("coco/")
    }

    @Test func hardCases() throws { try check("hard/") }

    @Test func everyCharacterOfTheSweptBlocks() throws { try check("sweep/") }

    @Test func casedAndOtherNormalizerOptions() throws {
        try check("cased/")
        try check("lowercase_keep_accents/")
        try check("strip_no_lowercase/")
        try check("raw/")
    }

    @Test func pairs() throws { try check("pair/") }

    @Test func truncationAndFixedPadding() throws { try check("truncate/") }

    @Test(arguments: [1, 2, 7])
    func batchesOnAnyNumberOfThreads(threads: Int) throws {
        let goldens = try Goldens.load()
        #expect(goldens.batches.count == 6)
        for batch in goldens.batches {
            let tokenizer = try Checkpoint.tokenizer(try #require(goldens.configs[batch.config]))
            let actual = try tokenizer.encodeBatch(batch.texts, pairs: batch.pairs, options: batch.options, threads: threads)
            #expect(actual.count == batch.expected.count)
            for (index, (a, e)) in zip(actual, batch.expected).enumerated() {
                let diff = difference(a, e)
                #expect(diff == nil, "\(batch.name)[\(index)]: \(diff ?? "")")
            }
        }
    }

    @Test func largeBatchIsDeterministicAcrossThreadCounts() throws {
        let goldens = try Goldens.load()
        let texts = goldens.cases.filter { $0.name.hasPrefix("coco/") }.map(\.text)
        let many = Array(repeating: texts, count: 4).flatMap { $0 }
        let tokenizer = try Checkpoint.base.get()
        let serial = try tokenizer.encodeBatch(many, options: .fixed(32), threads: 1)
        let parallel = try tokenizer.encodeBatch(many, options: .fixed(32), threads: 8)
        #expect(serial == parallel)
        let single = try many.prefix(50).map { try tokenizer.encode($0, options: .fixed(32)) }
        #expect(Array(serial.prefix(50)) == single)
    }
}
