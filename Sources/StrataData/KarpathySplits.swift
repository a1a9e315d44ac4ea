import Foundation

/// Karpathy's COCO split file (`dataset_coco.json`): train / val / test / restval per image, with raw sentences.
struct KarpathySplits {
    struct Entry {
        let node: JSONNode
        let cocoID: Int64
        let fileName: String
        let filePath: String
        let split: String
        let sentences: [(node: JSONNode, id: Int64, raw: String)]
    }

    let entries: [Entry]
    /// Split of each COCO image id.
    let splitByImage: [Int64: String]

    static func load(_ url: URL) throws -> KarpathySplits {
        let root = try JSONNode.load(url)
        var entries: [Entry] = []
        var splits: [Int64: String] = [:]
        for node in try root.member("images").elements() {
            let cocoID = try node.member("cocoid").int()
            let split = try node.member("split").string()
            var sentences: [(JSONNode, Int64, String)] = []
            for sentence in try node.optionalMember("sentences")?.elements() ?? [] {
                sentences.append((sentence, try sentence.member("sentid").int(), try sentence.member("raw").string()))
            }
            entries.append(Entry(node: node, cocoID: cocoID, fileName: try node.member("filename").string(),
                                 filePath: try node.optionalMember("filepath")?.string() ?? "",
                                 split: split, sentences: sentences))
            splits[cocoID] = split
        }
        return KarpathySplits(entries: entries, splitByImage: splits)
    }

    /// Adds the file's own images and sentences, for a dataset described by the Karpathy file alone.
    func addRecords(imageRoot: URL, into collector: inout RecordCollector) throws {
        for entry in entries {
            let folder = entry.filePath.isEmpty ? imageRoot : imageRoot.appendingPathComponent(entry.filePath)
            guard entry.filePath.isEmpty || RecordCollector.isSafe(fileName: entry.filePath) else {
                try collector.report(.unsafeFileName(file: entry.node.file, path: entry.node.path + ".filepath",
                                                     fileName: entry.filePath))
                continue
            }
            try collector.addImage(node: entry.node, id: entry.cocoID, fileName: entry.fileName, folder: folder,
                                   width: nil, height: nil, split: entry.split)
            for sentence in entry.sentences {
                try collector.addCaption(node: sentence.node, id: sentence.id, imageID: entry.cocoID, text: sentence.raw)
            }
        }
    }
}
