import Foundation
import StrataImage
import StrataTensor
import StrataTestSupport
import Testing

/// Strata against Pillow + torchvision on every image of ../shared/data/{coco-mini,odd-images}.
@Suite struct ConformanceTests {
    static let forms = ["decoded", "r256c224_bilinear", "r256c224_bicubic", "r224x224_bilinear", "r224x224_bicubic",
                        "exif_decoded", "exif_r256c224_bilinear"]

    @Test func everyImageMatchesPillowAndTorchvision() throws {
        let (goldens, samples) = try Goldens.load()
        #expect(goldens.images.count >= 280)
        var checked = 0
        for form in Self.forms {
            let preprocessor = try ImagePreprocessor(options: Goldens.options(for: form))
            for image in goldens.images {
                guard let golden = image.forms?[form] else { continue }
                let path = try SharedData.url(image.file).path
                let pixels = try preprocessor.pixels(contentsOf: path)
                #expect([pixels.height, pixels.width, 3] == golden.shape, "\(image.file) \(form)")
                guard [pixels.height, pixels.width, 3] == golden.shape else { continue }
                let comparison = GoldenComparison(pixels, form: golden, samples: samples)
                if form.hasSuffix("decoded") {
                    // The issue's criterion: ±1 level on >= 99.9% of values.
                    #expect(Double(comparison.withinOne) >= 0.999 * Double(comparison.sampled), "\(image.file) \(form)")
                    #expect(abs(comparison.sumDifference) <= pixels.pixels.count / 1000, "\(image.file) \(form) sum")
                } else {
                    #expect(comparison.maxDifference <= 1, "\(image.file) \(form): \(comparison.maxDifference) levels")
                    #expect(abs(comparison.sumDifference) <= pixels.pixels.count / 100, "\(image.file) \(form) sum")
                }
                checked += 1
            }
        }
        #expect(checked >= 279 * 5)
    }

    @Test func fullArraysMatchExactly() throws {
        let folder = Goldens.folder.appendingPathComponent("full")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".npy") }.sorted()
        #expect(files.count >= 6)
        for file in files {
            let parts = file.dropLast(4).components(separatedBy: "__")
            let source = try SharedData.url("data/odd-images/\(parts[0])").path
            let reference = try NPY.read(contentsOf: folder.appendingPathComponent(file))
            let pixels = try ImagePreprocessor(options: Goldens.options(for: parts[1])).pixels(contentsOf: source)
            #expect(reference.shape == [pixels.height, pixels.width, 3], "\(file)")
            let expected = reference.floats.map { UInt8($0) }
            #expect(expected == pixels.pixels, "\(file)")
        }
    }

    @Test func filesStrataRefusesFailWithTheirKind() throws {
        let (goldens, _) = try Goldens.load()
        let refused = goldens.images.filter { $0.error != nil }
        #expect(refused.count >= 3)
        let decoder = try ImageDecoder.decoder()
        for image in refused {
            let path = try SharedData.url(image.file).path
            do {
                _ = try decoder.pixels(contentsOf: path)
                Issue.record("\(image.file) decoded, expected \(image.error ?? "")")
            } catch let error as ImageError {
                #expect(error.kind == image.error, "\(image.file): \(error)")
                #expect(error.description.contains(path))
            }
        }
    }

    @Test func sharedTorchPhotoFixtures() throws {
        let photo = try SharedData.url("fixtures/torch/photo.jpg").path
        let decodedReference = try SharedData.npy("fixtures/torch/photo_decoded_uint8_HWC.npy")
        let decoded = try ImageDecoder.decode(contentsOf: photo)
        #expect(decodedReference.shape == [decoded.height, decoded.width, 3])
        let reference = decodedReference.floats
        let within = zip(reference, decoded.pixels).filter { abs($0 - Float($1)) <= 1 }.count
        #expect(Double(within) >= 0.999 * Double(reference.count))

        let tensorReference = try SharedData.npy("fixtures/torch/photo_preprocessed_1x3x224x224.npy")
        let tensor = try ImagePreprocessor().tensor(contentsOf: photo)
        #expect(tensor.shape == [3, 224, 224])
        #expect(tensorReference.shape == [1, 3, 224, 224])
        // Within one level after un-normalising: |Δ| * std * 255 <= 1.
        let std = PreprocessOptions.imagenetStd
        let ours = tensor.floats, theirs = tensorReference.floats
        var worstLevels: Float = 0
        for i in ours.indices {
            worstLevels = max(worstLevels, abs(ours[i] - theirs[i]) * std[i / (224 * 224)] * 255)
        }
        #expect(worstLevels <= 1)
        #expect(Conformance.matches(tensor, try tensorReference.reshaped([3, 224, 224])))
    }
}
