import Foundation
import StrataTensor

/// The files written by `scripts/fixtures/make_checkpoint_fixtures.py` (PyTorch, torchvision, transformers).
enum CheckpointFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoints")

    /// `Fixtures/checkpoints/<name>`.
    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Loads `Fixtures/checkpoints/<name>.npy`.
    static func npy(_ name: String) throws -> Tensor { try NPY.read(contentsOf: url(name + ".npy")) }
}
