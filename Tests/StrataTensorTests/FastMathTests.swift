import Foundation
import Testing
@testable import StrataTensor

@Suite struct FastMathTests {
    @Test func expAgreesWithTheCLibrary() {
        var worst: Float = 0
        for i in 0...20000 {
            let x = -87 + Float(i) * (175.0 / 20000)
            worst = max(worst, abs(FastMath.exp(x) - expf(x)) / expf(x))
        }
        #expect(worst < 5e-7)
        #expect(FastMath.exp(-.infinity) == 0)
        #expect(FastMath.exp(-100) == 0)
        #expect(FastMath.exp(.nan).isNaN)
    }

    @Test func erfAgreesWithTheCLibrary() {
        var worst: Float = 0
        for i in 0...20000 {
            let x = -6 + Float(i) * (12.0 / 20000)
            worst = max(worst, abs(FastMath.erf(x) - erff(x)))
        }
        #expect(worst < 6e-7)
        #expect(FastMath.erf(.nan).isNaN)
    }

    @Test func laneSumMatchesASequentialSum() {
        let values = (0..<37).map { Float($0) * 0.25 }
        values.withUnsafeBufferPointer { #expect(FastMath.sum($0.baseAddress!, count: 37) == values.reduce(0, +)) }
    }
}
