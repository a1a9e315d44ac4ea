import Foundation
import StrataTensor

extension Tape {
    /// `max(x, 0)` element-wise.
    public func relu(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in Kernels.reluRaw(y, count: n) },
              backward: { _, y, gy, gx, n in for i in 0..<n where y[i] > 0 { gx[i] += gy[i] } })
    }

    /// Exact (erf) GELU element-wise, PyTorch's `gelu(approximate='none')`.
    public func gelu(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in Kernels.geluRaw(y, count: n) },
              backward: { x, _, gy, gx, n in
                  let invSqrt2: Float = 0.70710678118654752440
                  let invSqrt2Pi: Float = 0.39894228040143267794
                  for i in 0..<n {
                      let v = x[i]
                      let cdf = 0.5 * (1 + erff(v * invSqrt2))
                      let pdf = invSqrt2Pi * expf(-0.5 * v * v)
                      gx[i] += gy[i] * (cdf + v * pdf)
                  }
              })
    }

    /// The hyperbolic tangent element-wise.
    public func tanh(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in Kernels.tanhRaw(y, count: n) },
              backward: { _, y, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * (1 - y[i] * y[i]) } })
    }

    /// The logistic sigmoid `1 / (1 + e^-x)` element-wise (computed without overflow for large |x|).
    public func sigmoid(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in
            for i in 0..<n {
                let v = y[i]
                if v >= 0 {
                    y[i] = 1 / (1 + expf(-v))
                } else {
                    let e = expf(v)
                    y[i] = e / (1 + e)
                }
            }
        }, backward: { _, y, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * y[i] * (1 - y[i]) } })
    }

    /// `e^x` element-wise (CLIP's learnable temperature is `exp(logit_scale)`).
    public func exp(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in for i in 0..<n { y[i] = expf(y[i]) } },
              backward: { _, y, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * y[i] } })
    }

    /// The natural logarithm element-wise.
    public func log(_ x: Variable) -> Variable {
        unary(x, forward: { y, n in for i in 0..<n { y[i] = logf(y[i]) } },
              backward: { x, _, gy, gx, n in for i in 0..<n { gx[i] += gy[i] / x[i] } })
    }

    /// `x · factor` for a constant `factor`.
    public func scaled(_ x: Variable, by factor: Float) -> Variable {
        unary(x, forward: { y, n in for i in 0..<n { y[i] *= factor } },
              backward: { _, _, gy, gx, n in for i in 0..<n { gx[i] += gy[i] * factor } })
    }

    /// `x + constant` element-wise.
    public func shifted(_ x: Variable, by constant: Float) -> Variable {
        unary(x, forward: { y, n in for i in 0..<n { y[i] += constant } },
              backward: { _, _, gy, gx, n in for i in 0..<n { gx[i] += gy[i] } })
    }

    /// An element-wise operation: `forward` turns a copy of x into y in place; `backward(x, y, gy, gx, n)`
    /// adds the input gradient to `gx`.
    func unary(_ x: Variable,
               forward: (UnsafeMutablePointer<Float>, Int) -> Void,
               backward: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                    UnsafeMutablePointer<Float>, Int) -> Void) -> Variable {
        let shape = self.shape(of: x)
        let n = Tensor.elementCount(shape)
        let (id, y) = output(shape: shape)
        y.update(from: valuePointer(x.id), count: n)
        forward(y, n)
        return record(id, inputs: [x]) { tape in
            backward(tape.valuePointer(x.id), tape.valuePointer(id), tape.gradPointer(id), tape.gradPointer(x.id), n)
        }
    }
}
