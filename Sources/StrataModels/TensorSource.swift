import Foundation
import StrataTensor

/// Named tensors from a checkpoint file in any format Strata reads (safetensors, `torch.save` zip
/// archives, sharded indexes of either). Models read them through `Checkpoint`, which checks shapes.
public protocol TensorSource: AnyObject {
    /// The file's path, used in every error.
    var path: String { get }
    /// All tensor names, sorted.
    var names: [String] { get }
    /// Whether a tensor of this name exists.
    func contains(_ name: String) -> Bool
    /// The tensor's shape, or `ModelError.missingTensor`.
    func shape(of name: String) throws -> [Int]
    /// The tensor's dtype, spelled as safetensors does (`F32`, `F16`, `BF16`, `I64`, ...).
    func dtype(of name: String) throws -> String
    /// The tensor converted to a contiguous `f32` tensor.
    func floatTensor(_ name: String) throws -> Tensor
}

extension SafetensorsFile: TensorSource {
    public func shape(of name: String) throws -> [Int] { try entry(name).shape }
    public func dtype(of name: String) throws -> String { try entry(name).dtype }
}
