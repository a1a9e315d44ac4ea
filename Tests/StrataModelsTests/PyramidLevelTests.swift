import Testing
@testable import StrataModels

@Suite struct PyramidLevelTests {
    @Test func parsesTheWrittenForms() throws {
        #expect(try PyramidLevel(parsing: "layer2:pool7x7") == PyramidLevel(output: "layer2", pool: [7, 7]))
        #expect(try PyramidLevel(parsing: "layer3:pool2x3") == PyramidLevel(output: "layer3", pool: [2, 3]))
        #expect(try PyramidLevel(parsing: "layer4:pool1") == PyramidLevel(output: "layer4", pool: [1, 1]))
        #expect(try PyramidLevel(parsing: "last_hidden_state:mean") == PyramidLevel(output: "last_hidden_state", reduce: .mean))
        #expect(try PyramidLevel(parsing: "hidden_state_6:cls") == PyramidLevel(output: "hidden_state_6", reduce: .cls))
        #expect(try PyramidLevel(parsing: "avgpool") == PyramidLevel(output: "avgpool"))
        #expect(try PyramidLevel.parseList("layer2:pool7x7,fc") == [PyramidLevel(output: "layer2", pool: [7, 7]), PyramidLevel(output: "fc")])
    }

    @Test func roundTripsThroughDescription() throws {
        for text in ["layer2:pool7x7", "last_hidden_state:mean", "pooler_output", "hidden_state_3:cls", "layer1:pool3x5"] {
            #expect(try PyramidLevel(parsing: text).description == text)
        }
    }

    @Test func rejectsMalformedForms() {
        for text in ["", ":mean", "layer2:pool", "layer2:pool0x7", "layer2:poolx7", "layer2:pool7x7x7", "layer2:max",
                     "a:b:c", "layer 2", "layer2:none"] {
            #expect(throws: ModelError.self, "\(text)") { try PyramidLevel(parsing: text) }
        }
        let error = #expect(throws: ModelError.self) { try PyramidLevel(parsing: "layer2:max") }
        #expect(error?.description.contains("layer2:max") == true)
    }
}
