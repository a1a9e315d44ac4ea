import Foundation

/// Builds encoders from a model name and a checkpoint location (the build pipeline's entry point).
///
/// A checkpoint is a weights file (`.safetensors`; `torch.save` archives `.pth`, `.pt`, `.bin`; a sharded
/// `*.index.json`) or a folder holding `model.safetensors`, `model.safetensors.index.json`,
/// `pytorch_model.bin` or `pytorch_model.bin.index.json` (Hugging Face models also need `config.json`).
public enum EncoderLoader {
    /// The weights file of a checkpoint: the file itself, or a folder's first weights file; throws
    /// `ModelError.noWeights` naming the files looked for when a folder has none.
    public static func weightsFile(of checkpoint: URL) throws -> URL { try Checkpoint.weightsURL(checkpoint) }

    /// Every file whose bytes make up the checkpoint's weights: the weights file, and for a sharded index
    /// the shards it names.
    public static func weightsFiles(of checkpoint: URL) throws -> [URL] {
        let file = try weightsFile(of: checkpoint)
        guard file.pathExtension.lowercased() == "json" else { return [file] }
        return [file] + (try ShardedCheckpoint(index: file).shardURLs)
    }

    /// Opens a checkpoint's tensors, whatever its format.
    public static func tensors(at checkpoint: URL) throws -> any TensorSource { try Checkpoint.open(checkpoint) }

    /// Image encoder names the loader knows.
    public static let imageModels = ["resnet50", "vit"] + EfficientNetLite.Config.variants.map(\.name)
    /// Text encoder names the loader knows.
    public static let textModels = ["bert"]

    /// model "resnet50" (torchvision or timm names) or "vit" (HF ViTModel folder: config.json + weights)
    public static func imageEncoder(model: String, checkpoint: URL) throws -> any ImageEncoder {
        switch model.lowercased() {
        case "resnet50": return try ResNet50(checkpoint: checkpoint)
        case "vit": return try ViT(folder: checkpoint)
        default:
            if let config = EfficientNetLite.Config.named(model) {
                return try EfficientNetLite(checkpoint: checkpoint, config: config)
            }
            throw ModelError.unknownModel(name: model, known: imageModels)
        }
    }

    /// model "bert" (HF BertModel folder: config.json + weights)
    public static func textEncoder(model: String, checkpoint: URL) throws -> any TextEncoder {
        switch model.lowercased() {
        case "bert": return try BERT(folder: checkpoint)
        default: throw ModelError.unknownModel(name: model, known: textModels)
        }
    }
}
