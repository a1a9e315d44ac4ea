import Testing
import StrataTensor

@Suite struct PoolingTests {
    @Test func maxPoolTreatsPaddingAsNegativeInfinity() throws {
        expectMatches(try Kernels.maxPool2d(try Fixture.load("maxpool_x"), kernel: 3, stride: 2, padding: 1),
                      try Fixture.load("maxpool_3_s2_p1"), "max 3/2/1")
        expectMatches(try Kernels.maxPool2d(try Fixture.load("maxpool_neg_x"), kernel: 3, stride: 2, padding: 1),
                      try Fixture.load("maxpool_neg_3_s2_p1"), "max 3/2/1 on negative input")
    }

    @Test func maxPoolShapesAndCeilMode() throws {
        let x = try Fixture.load("pool_small_x")
        expectMatches(try Kernels.maxPool2d(x, kernel: 2, ceilMode: true), try Fixture.load("maxpool_2_s2_ceil"), "max ceil")
        expectMatches(try Kernels.maxPool2d(x, kernel: Size2D(3, 2), stride: Size2D(1, 2), padding: Size2D(1, 0)),
                      try Fixture.load("maxpool_3x2_s1x2_p1x0"), "max 3x2")
        #expect(throws: TensorError.self) { try Kernels.maxPool2d(x, kernel: 2, padding: 2) }
    }

    @Test func averagePool() throws {
        let x = try Fixture.load("pool_small_x")
        expectMatches(try Kernels.avgPool2d(x, kernel: 3, stride: 2, padding: 1), try Fixture.load("avgpool_3_s2_p1"), "avg")
        expectMatches(try Kernels.avgPool2d(x, kernel: 3, stride: 2, padding: 1, countIncludePad: false),
                      try Fixture.load("avgpool_3_s2_p1_nopad"), "avg without pad count")
        expectMatches(try Kernels.avgPool2d(x, kernel: 3, stride: 2, padding: 1, ceilMode: true),
                      try Fixture.load("avgpool_3_s2_p1_ceil"), "avg ceil")
        expectMatches(try Kernels.avgPool2d(x, kernel: Size2D(2, 3), stride: Size2D(2, 1)),
                      try Fixture.load("avgpool_2x3_s2x1"), "avg 2x3")
    }

    @Test func adaptiveAveragePoolUsesPyTorchWindows() throws {
        let x = try Fixture.load("adaptive_x")
        expectMatches(try Kernels.adaptiveAvgPool2d(x, outputSize: Size2D(4, 3)), try Fixture.load("adaptive_4x3"), "4x3")
        expectMatches(try Kernels.adaptiveAvgPool2d(x, outputSize: Size2D(3, 5)), try Fixture.load("adaptive_3x5"), "3x5")
        expectMatches(try Kernels.adaptiveAvgPool2d(x, outputSize: Size2D(7, 9)), try Fixture.load("adaptive_7x9"), "7x9")
        expectMatches(try Kernels.globalAvgPool2d(x), try Fixture.load("adaptive_1x1"), "global")
    }
}
