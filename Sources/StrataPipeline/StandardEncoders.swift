import Foundation
import StrataModels

extension EncoderProvider {
    /// The encoders of `StrataModels`: ResNet-50 and ViT for images, BERT for text.
    public static let standard = EncoderProvider(
        image: { model, checkpoint in try EncoderLoader.imageEncoder(model: model, checkpoint: checkpoint) },
        text: { model, checkpoint in try EncoderLoader.textEncoder(model: model, checkpoint: checkpoint) }
    )
}
