import ArgumentParser
import StrataTestSupport

/// Writes a cache of synthetic image-caption features (text a noisy linear function of the image
/// features) with the coco-mini column names and shapes, to try heads before a real cache exists.
struct SyntheticPairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-synthetic-pairs",
        abstract: "Write a synthetic paired-feature cache with the coco-mini-resnet50-minilm columns (for tests and benchmarks)."
    )

    @Argument(help: "The new cache directory.")
    var cache: String

    @Option(help: "Training images.")
    var trainImages = 400

    @Option(help: "Validation images.")
    var valImages = 100

    @Option(help: "Caption noise.")
    var noise: Float = 1.0

    @Option(help: "Seed.")
    var seed: UInt64 = 7

    func run() throws {
        var spec = SyntheticPairCache.cocoMiniShapes
        spec.trainImages = trainImages
        spec.valImages = valImages
        spec.textNoise = noise
        spec.seed = seed
        try spec.write(to: cache)
        print("wrote \(cache): \(trainImages) + \(valImages) images, \(spec.captionsPerImage) captions each")
    }
}
