import Foundation

/// Builds encoders from a model name and a checkpoint location (the build pipeline's entry point).
public enum EncoderLoader {
    /// The weights file of a checkpoint: the `.safetensors` file itself, or a folder's `model.safetensors`.
    public static func weightsFile(of checkpoint: URL) -> URL { Checkpoint.weightsURL(checkpoint) }

    /// Image encoder names the loader knows.
    public static let imageModels = ["resnet50", "vit"]
    /// Text encoder names the loader knows.
    public static let textModels = ["bert"]

    /// model "resnet50" (checkpoint = a .safetensors file with torchvision names, or a folder holding model.safetensors) or "vit" (HF ViTModel folder: config.json + model.safetensors)
    public static func imageEncoder(model: String, checkpoint: URL) throws -> any ImageEncoder {
        switch model.lowercased() {
        case "resnet50": return try ResNet50(checkpoint: checkpoint)
        case "vit": return try ViT(folder: checkpoint)
        default: throw ModelError.unknownModel(name: model, known: imageModels)
        }
    }

    /// model "bert" (HF BertModel folder: config.json + model.safetensors)
    public static func textEncoder(model: String, checkpoint: URL) throws -> any TextEncoder {
        switch model.lowercased() {
        case "bert": return try BERT(folder: checkpoint)
        default: throw ModelError.unknownModel(name: model, known: textModels)
        }
    }
}
