import Foundation
import StrataTensor
import StrataTestExpectations

/// The PyTorch fixture of `scripts/fixtures/make_heads_fixtures.py`, committed beside the tests.
enum Fixture {
    static let folder = SafetensorsFixtures()

    /// All tensors of `Fixtures/<name>.safetensors`.
    static func load(_ name: String) throws -> [String: Tensor] { try folder.load(name) }
}
