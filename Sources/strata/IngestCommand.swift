import ArgumentParser
import Foundation
import StrataData

/// `strata ingest`: reads COCO annotation files and reports what the dataset holds.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read COCO caption annotations (and Karpathy splits) and report images, captions and problems."
    )

    @Option(name: .long, help: "A COCO captions_*.json file (repeat for several splits).")
    var annotations: [String] = []

    @Option(name: .long, help: "The image folder; a sub-folder named for each file's split (e.g. val2017/) is used when present.")
    var images: String

    @Option(name: .long, help: "A COCO instances_*.json file, for categories (repeatable).")
    var instances: [String] = []

    @Option(name: .long, help: "Karpathy's dataset_coco.json: its splits replace the files' own.")
    var karpathy: String?

    @Flag(name: .long, help: "Fail on the first bad record instead of dropping it.")
    var strict = false

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard !annotations.isEmpty || karpathy != nil else {
            throw ValidationError("give at least one --annotations file or --karpathy")
        }
    }

    func run() throws {
        let imageRoot = URL(fileURLWithPath: images)
        let loader = DatasetLoader(
            captionSources: annotations.map { CaptionSource(annotations: URL(fileURLWithPath: $0), imageRoot: imageRoot) },
            instanceFiles: instances.map { URL(fileURLWithPath: $0) },
            karpathySplits: karpathy.map { URL(fileURLWithPath: $0) },
            karpathyImageRoot: imageRoot,
            strict: strict
        )
        let summary = IngestSummary(index: try loader.load())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            return
        }
        print("images                  \(summary.images)")
        for (split, count) in summary.splits.sorted(by: { $0.key < $1.key }) {
            print("  \(split): \(count)")
        }
        print("captions                \(summary.captions)")
        print("images without captions \(summary.imagesWithoutCaptions)")
        if summary.categories > 0 { print("categories              \(summary.categories)") }
        printList("missing files", summary.missingFiles)
        printList("unlisted files", summary.unlistedFiles)
        printList("problems", summary.problems)
    }

    /// Prints a count and the first items of a list.
    private func printList(_ title: String, _ items: [String], limit: Int = 10) {
        print(title.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(items.count)")
        for item in items.prefix(limit) { print("  \(item)") }
        if items.count > limit { print("  ... and \(items.count - limit) more") }
    }
}
