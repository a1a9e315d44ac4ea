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
    /// `min(max(x, 0), 6)`, MobileNet's and EfficientNet-Lite's activation (`nn.ReLU6`).
    case relu6
}

/// Zero padding of a 2-D map that may differ on each side.
///
/// `Padding2D(1)` pads one row and column on every side (PyTorch's `padding=1`); `Padding2D.same(…)` is
/// TensorFlow's "SAME" padding, which puts the odd row or column at the bottom and right.
public struct Padding2D: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Rows above the map.
    public var top: Int
    /// Columns left of the map.
    public var left: Int
    /// Rows below the map.
    public var bottom: Int
    /// Columns right of the map.
    public var right: Int

    /// Padding with each side given.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding before and after, as PyTorch's `padding=(ph, pw)`.
    public init(_ symmetric: Size2D) {
        self.init(top: symmetric.height, left: symmetric.width, bottom: symmetric.height, right: symmetric.width)
    }

    /// TensorFlow's "SAME" padding for a map of `input` size: the output has `ceil(input / stride)` rows
    /// and columns, and the total padding `max((out - 1)·stride + (kernel - 1)·dilation + 1 - input, 0)`
    /// is split with the smaller half before (`total / 2`) and the rest after.
    public static func same(input: Size2D, kernel: Size2D, stride: Size2D, dilation: Size2D = 1) -> Padding2D {
        func split(_ size: Int, _ kernel: Int, _ stride: Int, _ dilation: Int) -> (Int, Int) {
            let out = (size + stride - 1) / max(1, stride)
            let total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
            return (total / 2, total - total / 2)
        }
        let (top, bottom) = split(input.height, kernel.height, stride.height, dilation.height)
        let (left, right) = split(input.width, kernel.width, stride.width, dilation.width)
        return Padding2D(top: top, left: left, bottom: bottom, right: right)
    }

    /// The padding before the map (top, left), which is where an unfolding starts reading.
    public var leading: Size2D { Size2D(top, left) }

    /// Whether no side is padded.
    public var isZero: Bool { top == 0 && left == 0 && bottom == 0 && right == 0 }

    public var description: String {
        top == bottom && left == right ? Size2D(top, left).description : "(top \(top), left \(left), bottom \(bottom), right \(right))"
    }
}
