import Foundation
import Testing
import StrataTestSupport
@testable import StrataData

/// Validation of hand-made annotation files: every error names the file and the JSON path.
@Suite struct ValidationTests {
    /// Writes `json` to a fresh file and loads it as a caption source.
    func load(_ json: String, strict: Bool = false) throws -> DatasetIndex {
        let folder = try SharedData.temporaryDirectory("strata-data")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("captions_mini.json")
        try Data(json.utf8).write(to: file)
        return try DatasetLoader(captionSources: [CaptionSource(annotations: file, imageRoot: folder)],
                                 strict: strict).load()
    }

    static let goodImages = #"[{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}, {"id": 2, "file_name": "b.jpg"}]"#

    @Test func missingKeyNamesThePath() throws {
        do {
            _ = try load(#"{"images": \#(Self.goodImages), "annotations": [{"id": 7, "image_id": 1}]}"#, strict: true)
            Issue.record("expected an error")
        } catch let error as DataError {
            guard case let .missingKey(file, path) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file.hasSuffix("captions_mini.json"))
            #expect(path == "annotations[0].caption")
        }
    }

    @Test func wrongTypeNamesThePathAndTypes() throws {
        #expect(throws: DataError.self) { try load(#"{"images": {}, "annotations": []}"#) }
        do {
            _ = try load(#"{"images": [{"id": "1", "file_name": "a.jpg"}], "annotations": []}"#, strict: true)
            Issue.record("expected an error")
        } catch let error as DataError {
            guard case let .wrongType(_, path, expected, found) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path == "images[0].id")
            #expect(expected == "an integer")
            #expect(found == "a string")
        }
        do {
            _ = try load(#"{"images": [{"id": true, "file_name": "a.jpg"}], "annotations": []}"#, strict: true)
            Issue.record("expected an error")
        } catch let error as DataError {
            #expect(error.description.contains("images[0].id should be an integer, found a boolean"))
        }
    }

    @Test func invalidJSONIsReported() {
        #expect {
            try load(#"{"images": [}"#)
        } throws: { error in
            guard case .invalidJSON = error as? DataError else { return false }
            return true
        }
    }

    @Test func recordProblemsDropTheRecordAndAreListed() throws {
        let json = #"""
        {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "dup.jpg"},
                    {"id": 3, "file_name": "../etc/passwd"}, {"id": 4, "file_name": "/abs.jpg"},
                    {"id": 5, "file_name": "sub/ok.jpg"}],
         "annotations": [{"id": 10, "image_id": 1, "caption": "A dog."},
                         {"id": 10, "image_id": 1, "caption": "Same id."},
                         {"id": 11, "image_id": 99, "caption": "Nobody's image."},
                         {"id": 12, "image_id": 5, "caption": "  \n "},
                         {"id": 13, "image_id": 5, "caption": "A cat."}]}
        """#
        let index = try load(json)
        #expect(index.images.map(\.id) == [1, 5])
        #expect(index.images[1].path.hasSuffix("sub/ok.jpg"))
        #expect(index.captions.map(\.id) == [10, 13])
        let paths = index.problems.map { problem -> String in
            switch problem {
            case let .duplicateID(_, path, _), let .unsafeFileName(_, path, _),
                 let .unknownImage(_, path, _), let .emptyCaption(_, path, _):
                return path
            default:
                return "unexpected: \(problem)"
            }
        }
        #expect(paths == ["images[1].id", "images[2].file_name", "images[3].file_name",
                          "annotations[1].id", "annotations[3].caption", "annotations[2].image_id"])
        #expect(index.problems.allSatisfy { $0.isRecordLevel })
    }

    @Test func everyFieldIsCheckedAndABadRecordIsDroppedWithItsPathAndValue() throws {
        let longName = String(repeating: "n", count: 70_000) + ".jpg"
        let json = #"""
        {"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480},
                    {"id": 2, "file_name": "b.jpg", "width": -1, "height": 480},
                    {"id": 3, "file_name": "c.jpg", "width": 640, "height": 5e9},
                    {"id": 4, "file_name": "\#(longName)"},
                    {"id": -5, "file_name": "e.jpg"},
                    {"id": 1099511627776, "file_name": "f.jpg"},
                    {"id": 7, "file_name": "g\u0007.jpg"},
                    {"id": 8, "file_name": "h.jpg", "width": "wide"},
                    {"id": 9, "file_name": "i.jpg", "height": 0}],
         "annotations": [{"id": 10, "image_id": 1, "caption": "A dog."},
                         {"id": -11, "image_id": 1, "caption": "Negative id."},
                         {"id": 12, "image_id": -1, "caption": "Negative image."},
                         {"id": 1099511627777, "image_id": 1, "caption": "Too large."},
                         {"id": 14, "image_id": 1}]}
        """#
        let index = try load(json)
        #expect(index.images.map(\.id) == [1])
        #expect(index.captions.map(\.id) == [10])
        let lines = index.problems.map(\.description)
        let expected = ["images[1].width = -1: a width is a pixel count",
                        "images[2].height = 5000000000: a height is a pixel count",
                        "images[3].file_name = 'nnnn", "(70004 bytes): file names may have at most 1024 bytes",
                        "images[4].id = -5: ids must be in 0..<2^40",
                        "images[5].id = 1099511627776: ids must be in 0..<2^40",
                        "images[6].file_name = 'g\u{07}.jpg': file names may not hold control characters",
                        "images[7].width should be an integer, found a string",
                        "images[8].height = 0: a height is a pixel count",
                        "annotations[1].id = -11: ids must be in 0..<2^40",
                        "annotations[2].image_id = -1: ids must be in 0..<2^40",
                        "annotations[3].id = 1099511627777: ids must be in 0..<2^40",
                        "annotations[4].caption is missing"]
        for text in expected {
            #expect(lines.contains { $0.contains(text) }, "no problem says '\(text)': \(lines)")
        }
        #expect(index.problems.count == 12, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("captions_mini.json: ") })
    }

    @Test func strictModeThrowsOnTheFirstRecordProblem() {
        let json = #"{"images": \#(Self.goodImages), "annotations": [{"id": 1, "image_id": 42, "caption": "x"}]}"#
        #expect {
            try load(json, strict: true)
        } throws: { error in
            guard case let .unknownImage(_, path, imageID) = error as? DataError else { return false }
            return path == "annotations[0].image_id" && imageID == 42
        }
    }

    @Test func unsafeFileNamesAreRecognised() {
        for bad in ["", "/etc/passwd", "../x.jpg", "a/../../x.jpg", "a//b.jpg", "~/x.jpg", "a\\..\\b.jpg"] {
            #expect(!RecordCollector.isSafe(fileName: bad), "\(bad) should be refused")
        }
        for good in ["x.jpg", "train2017/x.jpg", "..x.jpg", "a..b.jpg"] {
            #expect(RecordCollector.isSafe(fileName: good), "\(good) should be accepted")
        }
    }

    @Test func karpathySplitsReplaceTheFilesSplits() throws {
        let folder = try SharedData.temporaryDirectory("strata-karpathy")
        defer { try? FileManager.default.removeItem(at: folder) }
        let captions = folder.appendingPathComponent("captions_val2014.json")
        try Data(#"{"images": \#(Self.goodImages), "annotations": [{"id": 5, "image_id": 2, "caption": "x"}]}"#.utf8)
            .write(to: captions)
        let karpathy = folder.appendingPathComponent("dataset_coco.json")
        try Data(#"""
        {"images": [{"cocoid": 1, "split": "test", "filename": "a.jpg", "filepath": "val2014",
                     "sentences": [{"sentid": 100, "raw": "A thing."}]},
                    {"cocoid": 2, "split": "restval", "filename": "b.jpg", "filepath": "val2014",
                     "sentences": [{"sentid": 101, "raw": "Another."}, {"sentid": 102, "raw": "More."}]}],
         "dataset": "coco"}
        """#.utf8).write(to: karpathy)
        let merged = try DatasetLoader(captionSources: [CaptionSource(annotations: captions, imageRoot: folder)],
                                       karpathySplits: karpathy).load()
        #expect(merged.images.map(\.split) == ["test", "restval"])
        #expect(merged.captions.map(\.id) == [5])

        let alone = try DatasetLoader(captionSources: [], karpathySplits: karpathy, karpathyImageRoot: folder).load()
        #expect(alone.images.map(\.split) == ["test", "restval"])
        #expect(alone.images[0].path == folder.appendingPathComponent("val2014/a.jpg").path)
        #expect(alone.captions.map(\.text) == ["A thing.", "Another.", "More."])
        #expect(alone.filtered(splits: ["test"]).captions.map(\.id) == [100])
    }
}
