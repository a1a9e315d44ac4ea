import Foundation
import StrataTestSupport
import StrataText

/// `tokenize [REPEATS]`: captions/s on one thread, Strata's BertTokenizer against Hugging Face
/// `tokenizers` (`BertWordPieceTokenizer.encode_batch`, TOKENIZERS_PARALLELISM=false), on the
/// coco-mini captions repeated to about 50,000.
enum TokenizeBench {
    static func run(_ arguments: [String]) throws {
        let repeats = arguments.first.flatMap(Int.init) ?? 3
        var captions: [String] = []
        for split in ["train", "val"] {
            let url = try SharedData.url("data/coco-mini/annotations/captions_\(split)2017.json")
            let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            for annotation in root?["annotations"] as? [[String: Any]] ?? [] {
                if let caption = annotation["caption"] as? String {
                    captions.append(caption.replacingOccurrences(of: "\n", with: " "))
                }
            }
        }
        guard !captions.isEmpty else { throw Peer.Failure(description: "no captions in coco-mini") }
        let texts = Array(repeating: captions, count: (50_000 + captions.count - 1) / captions.count).flatMap { $0 }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("strata-bench-captions-\(UUID().uuidString).txt")
        try Data(texts.map { $0 + "\n" }.joined().utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let model = try SharedData.url("models/all-MiniLM-L6-v2")
        let tokenizer = try BertTokenizer(directory: model)
        var encodings: [Encoding] = []
        let seconds = try Stopwatch.best(of: repeats) {
            encodings = try tokenizer.encodeBatch(texts, threads: 1)
        }
        let strata = Double(texts.count) / seconds
        let idSum = encodings.reduce(0) { $0 + $1.ids.reduce(0) { $0 + Int($1) } }

        let peer = try Peer.run("wordpiece.py", [model.appendingPathComponent("vocab.txt").path, file.path, String(repeats)])
        guard let hf = peer["captions_per_second"] as? Double, let hfSum = peer["id_sum"] as? Int else {
            throw Peer.Failure(description: "wordpiece.py printed no captions_per_second")
        }
        print("tokenize: \(texts.count) coco-mini captions, one thread, best of \(repeats)")
        print(String(format: "  strata     %10.0f captions/s", strata))
        print(String(format: "  tokenizers %10.0f captions/s  (BertWordPieceTokenizer.encode_batch, TOKENIZERS_PARALLELISM=false)", hf))
        print(String(format: "  ratio      %10.2fx", strata / hf))
        print("  same ids:  \(idSum == hfSum ? "yes" : "NO (\(idSum) vs \(hfSum))")")
    }
}
