/// A height/width pair: kernel sizes, strides, paddings, dilations and pooled sizes.
///
/// An integer literal means the same value for both: `stride: 2` is `Size2D(2, 2)`.
public struct Size2D: Sendable, Equatable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The vertical extent.
    public var height: Int
    /// The horizontal extent.
    public var width: Int

    /// A pair of distinct values.
    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// The same value for height and width.
    public init(integerLiteral value: Int) {
        self.init(value, value)
    }

    public var description: String { height == width ? "\(height)" : "(\(height), \(width))" }
}

/// An element-wise activation that kernels can apply to their output before returning it.
public enum Activation: Sendable, Equatable {
    /// The identity.
    case none
    /// `max(x, 0)`.
    case relu
    /// `x · Φ(x) = x/2 · (1 + erf(x/√2))`, PyTorch's default (`approximate='none'`).
    case gelu
    /// The hyperbolic tangent.
    case tanh
}
