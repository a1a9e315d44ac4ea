import Testing
import StrataTensor
import StrataTestSupport

/// Expects `actual` to have `reference`'s shape and to match it within the conformance tolerance
/// (1e-4 · max(1, max|ref|)), printing the error so runs show how close each output is.
func expectConforms(_ actual: Tensor, _ reference: Tensor, _ label: String) {
    #expect(actual.shape == reference.shape, "\(label)")
    let values = reference.floats
    let error = Conformance.maxAbsDifference(actual.floats, values)
    let tolerance = Conformance.tolerance(reference: values)
    print("\(label): max error \(error) (tolerance \(tolerance))")
    #expect(error <= tolerance, "\(label): \(error) > \(tolerance)")
}
