import Foundation

/// Builds encoders from a model family name and a checkpoint location (the build pipeline's entry point).
///
/// A checkpoint is a weights file (`.safetensors`; `torch.save` archives `.pth`, `.pt`, `.bin`; a sharded
/// `*.index.json`) or a folder holding `model.safetensors`, `model.safetensors.index.json`,
/// `pytorch_model.bin` or `pytorch_model.bin.index.json` (Hugging Face models also need `config.json`).
/// The families are `ModelRegistry`'s.
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
    public static var imageModels: [String] { ModelRegistry.names(for: .image) }
    /// Text encoder names the loader knows.
    public static var textModels: [String] { ModelRegistry.names(for: .text) }

    /// An image encoder of the family `model` (`resnet18`...`resnet152`: torchvision or timm names; `vit`:
    /// a Hugging Face ViTModel folder).
    public static func imageEncoder(model: String, checkpoint: URL) throws -> any ImageEncoder {
        guard let family = ModelRegistry.family(named: model), family.modality == .image else {
            throw ModelError.unknownModel(name: model, known: imageModels)
        }
        return try family.imageEncoder(checkpoint: checkpoint)
    }

    /// A text encoder of the family `model` (`bert`: a Hugging Face BertModel folder).
    public static func textEncoder(model: String, checkpoint: URL) throws -> any TextEncoder {
        guard let family = ModelRegistry.family(named: model), family.modality == .text else {
            throw ModelError.unknownModel(name: model, known: textModels)
        }
        return try family.textEncoder(checkpoint: checkpoint)
    }
}
