import Foundation
import StrataImage
import Testing
import StrataModels
import StrataTestSupport
@testable import StrataPipeline

@Suite struct PipelineConfigTests {
    let base = URL(fileURLWithPath: "/data/project/pipelines")

    func parse(_ yaml: String) throws -> PipelineConfig {
        try PipelineConfig.parse(yaml, file: "test.yaml", baseDirectory: base)
    }

    /// The key and reason of the error parsing `yaml` gives, or nil when it parses.
    func failure(_ yaml: String) -> (key: String, reason: String)? {
        do {
            _ = try parse(yaml)
            return nil
        } catch let PipelineError.invalidValue(_, key, reason) {
            return (key, reason)
        } catch {
            return ("unexpected", "\(error)")
        }
    }

    static let minimal = """
    version: 1
    dataset:
      annotations: [../data/captions_val2017.json]
      images: ../data
    output:
      cache: ../caches/mini
    """

    @Test func minimalFileGetsTorchvisionDefaults() throws {
        let config = try parse(Self.minimal)
        #expect(config.dataset.annotations == [URL(fileURLWithPath: "/data/project/data/captions_val2017.json")])
        #expect(config.dataset.images.path == "/data/project/data")
        #expect(config.cache.path == "/data/project/caches/mini")
        #expect(config.preprocess.resize == .shorterSide(256))
        #expect(config.preprocess.crop?.heightWidth == [224, 224])
        #expect(config.preprocess.mean == [0.485, 0.456, 0.406])
        #expect(config.tokenizer.maxLength == 128)
        #expect(config.imageEncoder == nil && config.textEncoder == nil)
        #expect(config.name == "mini")
    }

    @Test func fixedSizeResizeHasNoCropUnlessAsked() throws {
        let config = try parse(Self.minimal + "\npreprocess:\n  resize: [224, 224]\n  interpolation: bicubic\n")
        #expect(config.preprocess.resize == .size(ImageSize(width: 224, height: 224)))
        #expect(config.preprocess.crop == nil)
        #expect(config.preprocess.interpolation == .bicubic)
    }

    @Test func encodersAndLevels() throws {
        let config = try parse(Self.minimal + """

        encoders:
          image:
            model: resnet50
            checkpoint: /models/resnet50.safetensors
            levels:
              - {name: c3, output: layer2, pool: [7, 7], dtype: f16}
              - {output: avgpool, dtype: f32}
          text:
            model: bert
            checkpoint: ../models/minilm
            levels:
              - {output: last_hidden_state, reduce: none}
              - {name: cls, output: hidden_state_6, reduce: cls, dtype: bf16}
        """)
        let image = try #require(config.imageEncoder)
        #expect(image.levels.map(\.name) == ["c3", "avgpool"])
        #expect(image.levels[0].pool == [7, 7])
        #expect(image.levels[1].dtype == "f32")
        let text = try #require(config.textEncoder)
        #expect(text.levels[0].dtype == "f16")
        #expect(text.levels[1].reduce == "cls")
        // A BERT checkpoint folder provides the tokenizer.
        #expect(config.tokenizer.path?.path == "/data/project/models/minilm")
    }

    @Test func vitPatchLevelsMapToEncoderLevels() throws {
        let config = try parse(Self.minimal + """

        encoders:
          image:
            model: vit
            checkpoint: /models/vit
            levels:
              - {name: patches, output: last_hidden_state, reduce: patches, pool: [7, 7], dtype: f16}
              - {name: mid, output: hidden_state_6, reduce: patches}
              - {name: cls, output: last_hidden_state, reduce: cls}
        """)
        let image = try #require(config.imageEncoder)
        #expect(LevelMapping.pyramidLevels(image.levels) == [
            PyramidLevel(output: "patch_tokens", pool: [7, 7]),
            PyramidLevel(output: "hidden_state_6_patches"),
            PyramidLevel(output: "last_hidden_state", reduce: .cls),
        ])
    }

    @Test func errorsNameTheKey() {
        #expect(failure("dataset: {images: x}\noutput: {cache: c}\n")?.key == "version")
        #expect(failure(Self.minimal + "\nworkerz: {decode: 2}\n")?.key == "workerz")
        #expect(failure(Self.minimal + "\npreprocess: {interpolation: nearest}\n")?.key == "preprocess.interpolation")
        #expect(failure(Self.minimal + "\npreprocess: {resize: [224]}\n")?.key == "preprocess.resize")
        #expect(failure(Self.minimal + "\npreprocess: {std: [0.2, 0, 0.2]}\n")?.key == "preprocess.std[1]")
        #expect(failure(Self.minimal + "\nbatch: {images: many}\n")?.reason == "must be an integer, found a string")
        let level = failure(Self.minimal + """

        encoders:
          image: {model: resnet50, levels: [{output: layer1}, {output: layer9}]}
        """)
        #expect(level?.key == "encoders.image.levels[1].output")
        let duplicate = failure(Self.minimal + """

        encoders:
          image: {model: resnet50, levels: [{output: layer1, name: x}, {output: layer2, name: x}]}
        """)
        #expect(duplicate?.key == "encoders.image.levels[1].name")
        let mismatch = failure(Self.minimal + """

        encoders:
          text: {model: bert, checkpoint: m, levels: [{output: layer2}]}
        """)
        #expect(mismatch?.key == "encoders.text.levels[0].output")
        let wrongSide = failure(Self.minimal + "\nencoders:\n  text: {model: resnet50, levels: [{output: fc}]}\n")
        #expect(wrongSide?.key == "encoders.text.model")
    }

    @Test func invalidYAMLIsReported() {
        #expect(throws: PipelineError.self) { try parse("version: [1\n") }
    }

    @Test func shippedSchemaFileMatchesTheEmbeddedSchema() throws {
        let url = SharedData.repositoryRoot.appendingPathComponent("schemas/pipeline.schema.json")
        let onDisk = try String(contentsOf: url, encoding: .utf8)
        #expect(onDisk == PipelineSchema.json + "\n", "run `strata schema pipeline > schemas/pipeline.schema.json`")
    }

    @Test func shippedPipelinesAreValid() throws {
        let folder = SharedData.repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 3)
        for name in files {
            let config = try PipelineConfig.load(contentsOf: folder.appendingPathComponent(name))
            #expect(config.imageEncoder != nil || config.textEncoder != nil, "\(name) encodes nothing")
        }
    }

    @Test func changesIgnoreWorkersAndNameTheKey() throws {
        let a = try parse(Self.minimal + "\nworkers: {decode: 1}\npreprocess: {crop: 224}\n")
        let b = try parse(Self.minimal + "\nworkers: {decode: 4}\npreprocess: {crop: 256}\n")
        let changes = PipelineChanges.between(stored: a.document, current: b.document)
        #expect(changes == ["preprocess.crop: 224 → 256"])
        #expect(PipelineChanges.between(stored: a.document, current: a.document).isEmpty)
    }
}
