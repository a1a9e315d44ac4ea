import Foundation
import StrataTensor
import StrataTestSupport
import Testing

/// The safetensors fixtures (written by PyTorch through the scripts in `scripts/fixtures/`) in the
/// `Fixtures` folder beside a test target's sources, read by StrataTensor's one safetensors reader.
public struct SafetensorsFixtures: Sendable {
    /// The folder holding `<name>.safetensors`.
    public let directory: URL

    /// The `Fixtures` folder beside the file that calls this (`filePath`).
    public init(beside filePath: StaticString = #filePath) {
        directory = URL(fileURLWithPath: "\(filePath)").deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// All tensors of `<name>.safetensors`.
    public func load(_ name: String) throws -> [String: Tensor] {
        let reader = try SafetensorsReader(url: directory.appendingPathComponent("\(name).safetensors"))
        var tensors: [String: Tensor] = [:]
        for entry in reader.names { tensors[entry] = try reader.tensor(entry) }
        return tensors
    }
}

/// Fetches a fixture tensor, failing the test with its name when it is missing.
public func tensor(_ tensors: [String: Tensor], _ name: String,
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> Tensor {
    try #require(tensors[name], "fixture tensor \(name) missing", sourceLocation: sourceLocation)
}

/// Expects `actual` to match `reference` within max|a-b| ≤ relative·max(1, max|ref|); returns the error.
@discardableResult
public func expectMatches(_ actual: Tensor?, _ reference: Tensor, _ label: String, relative: Float = 1e-4,
                          sourceLocation: SourceLocation = #_sourceLocation) -> Float {
    guard let actual else {
        Issue.record("\(label): no value", sourceLocation: sourceLocation)
        return .infinity
    }
    let ref = reference.floats
    let error = Conformance.maxAbsDifference(actual.floats, ref)
    let tolerance = Conformance.tolerance(reference: ref, relative: relative)
    #expect(actual.count == reference.count, "\(label): \(actual.shape) vs \(reference.shape)", sourceLocation: sourceLocation)
    #expect(error <= tolerance, "\(label): max|a-b| = \(error) > \(tolerance)", sourceLocation: sourceLocation)
    return error
}
