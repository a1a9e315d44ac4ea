import ArgumentParser
import Foundation
import StrataModels

/// `strata encode`: runs a frozen encoder over a `.npy` batch and writes one `.npy` per pyramid level.
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode a .npy batch with a ResNet, EfficientNet-Lite, ViT or BERT and write one float32 .npy per level.",
        discussion: """
            Image models read pixels [N, 3, H, W] (normalized float32); BERT reads token ids [N, L] with an \
            optional attention mask and token type ids. Levels are written LEVEL.npy with ':' turned into \
            '_' (layer2_pool7x7.npy, last_hidden_state_mean.npy). Default levels: layer1..layer4, avgpool, \
            fc for the resnets; last_hidden_state and pooler_output for vit and bert.
            """
    )

    @Option(name: .long, help: "A model family.")
    var model: ModelChoice

    @Option(name: .long, help: "Checkpoint: a weights file (.safetensors, .pth, .pt, .bin), a Hugging Face folder (vit, bert; config.json beside the weights), or a cached hub name (torchvision/resnet50, google/vit-base-patch16-224).")
    var checkpoint: String

    @Option(name: .long, help: "Input .npy: pixels [N, 3, H, W] or token ids [N, L].")
    var input: String

    @Option(name: .long, help: "Attention mask .npy [N, L] (bert).")
    var attentionMask: String?

    @Option(name: .long, help: "Token type ids .npy [N, L] (bert).")
    var tokenTypeIds: String?

    @Option(name: .long, parsing: .upToNextOption,
            help: "Levels, e.g. layer2:pool7x7 layer4 avgpool, or last_hidden_state:mean (commas also separate).")
    var levels: [String] = []

    @Option(name: .long, help: "Output folder.")
    var out: String

    func validate() throws {
        do {
            _ = try parsedLevels()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func parsedLevels() throws -> [PyramidLevel] {
        try levels.flatMap { try PyramidLevel.parseList($0) }
    }

    func run() throws {
        let request = EncodeRunner.Request(
            model: model.family.name, checkpoint: try CheckpointArgument.url(checkpoint), input: URL(fileURLWithPath: input),
            attentionMask: attentionMask.map { URL(fileURLWithPath: $0) },
            tokenTypeIDs: tokenTypeIds.map { URL(fileURLWithPath: $0) },
            levels: try parsedLevels(), outputDirectory: URL(fileURLWithPath: out))
        for url in try EncodeRunner.run(request) { print(url.path) }
    }
}
