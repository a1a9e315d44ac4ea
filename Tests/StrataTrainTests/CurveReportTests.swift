import Foundation
import Testing
@testable import StrataTrain

/// The training report: scaled axes, epoch ticks, best epoch, R@1/5/10 both ways.
@Suite struct CurveReportTests {
    /// An epoch record whose Recall@K (fractions) are `i2t` and `t2i`.
    static func epoch(_ index: Int, loss: Double, i2t: [Double], t2i: [Double]) -> TrainingRecord {
        var metrics = RetrievalMetrics(imageRanks: [1], textRanks: [1])
        for (k, value) in zip(RetrievalMetrics.ks, i2t) { metrics.imageToText[k] = value }
        for (k, value) in zip(RetrievalMetrics.ks, t2i) { metrics.textToImage[k] = value }
        return TrainingRecord(kind: "epoch", epoch: index, step: 10 * (index + 1), loss: loss, parts: [:], learningRate: nil,
                              temperature: nil, validation: metrics, stepsPerSecond: 100)
    }

    /// A run of 6 epochs whose Recall peaks at epoch 4 (index 3), all under 9%.
    static let run: [TrainingRecord] = (0..<6).map { index in
        let peak = [0.010, 0.022, 0.031, 0.040, 0.036, 0.033][index]
        return epoch(index, loss: 4.2 - 0.3 * Double(index), i2t: [peak, 2 * peak, 2.2 * peak], t2i: [0.8 * peak, 1.6 * peak, 2 * peak])
    }

    @Test func niceTicksAreRoundAndCoverTheData() {
        #expect(CurveReport.niceTicks(from: 0.8, to: 8.8) == [0, 2, 4, 6, 8, 10])
        let ticks = CurveReport.niceTicks(from: 2.7, to: 4.2)
        #expect(ticks.first! <= 2.7 && ticks.last! >= 4.2 && ticks.count >= 4 && ticks.count <= 9)
        #expect(CurveReport.niceStep(0.37) == 0.5 && CurveReport.niceStep(3) == 5 && CurveReport.niceStep(20) == 20)
        #expect(CurveReport.niceTicks(from: 5, to: 5).count >= 2)
        #expect(CurveReport.epochTicks(6) == [1, 2, 3, 4, 5, 6])
        #expect(CurveReport.epochTicks(30) == [1, 5, 10, 15, 20, 25, 30])
        #expect(CurveReport.label(0.30000000000000004, ticks: [0.2, 0.3, 0.4]) == "0.3")
    }

    @Test func theReportScalesItsAxesTicksEpochsAndMarksTheBestEpoch() {
        let svg = CurveReport.svg([("projector", Self.run)])
        // The recall axes end near the data (under 10%), not at 100.
        #expect(!svg.contains(">100<"), "recall axis reaches 100")
        #expect(svg.contains(">10<") || svg.contains(">9<"))
        // Every epoch is ticked, the best (4th) one marked in each panel and named in the legend.
        for epoch in 1...6 { #expect(svg.contains("text-anchor=\"middle\">\(epoch)</text>")) }
        #expect(svg.components(separatedBy: ">best 4</text>").count - 1 == 3)
        #expect(svg.contains("projector — best epoch 4: i2t R@1 4.0, t2i R@1 3.2"))
        // R@1, R@5 and R@10 both ways: six recall lines, each with its best-epoch marker, plus the loss.
        #expect(svg.contains("image → text") && svg.contains("text → image"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 7)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 7 + 1)
        for k in [1, 5, 10] { #expect(svg.contains(">R@\(k)</text>")) }
        #expect(svg.components(separatedBy: "stroke-dasharray=\"7 4\" points").count - 1 == 2)
        #expect(svg.components(separatedBy: "stroke-dasharray=\"2 3\" points").count - 1 == 2)
    }
}
