import Foundation
import Testing
import StrataTensor
import StrataTestSupport

/// The `.npy` references written by `scripts/fixtures/make_tensor_fixtures.py` (PyTorch and numpy).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Loads `Fixtures/<name>.npy`.
    static func load(_ name: String) throws -> Tensor {
        try NPY.read(contentsOf: directory.appendingPathComponent("\(name).npy"))
    }
}

/// Expects `actual` to equal `reference` in shape and within `1e-4 · max(1, max|reference|)`.
func expectMatches(_ actual: Tensor, _ reference: Tensor, _ label: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == reference.shape, "\(label): shape \(actual.shape) vs \(reference.shape)",
            sourceLocation: sourceLocation)
    guard actual.shape == reference.shape else { return }
    let ref = reference.floats
    let error = Conformance.maxAbsDifference(actual.floats, ref)
    let tolerance = Conformance.tolerance(reference: ref)
    #expect(error <= tolerance, "\(label): max |error| \(error) > tolerance \(tolerance)", sourceLocation: sourceLocation)
}
