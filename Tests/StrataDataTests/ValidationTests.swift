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
            _ = try load(#"{"images": \#(Self.goodImages), "annotations": [{"id": 7, "image_id": 1}]}"#)
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
            _ = try load(#"{"images": [{"id": "1", "file_name": "a.jpg"}], "annotations": []}"#)
            Issue.record("expected an error")
        } catch let error as DataError {
            guard case let .wrongType(_, path, expected, found) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path == "images[0].id")
            #expect(expected == "an integer")
            #expect(found == "a string")
        }
        do {
            _ = try load(#"{"images": [{"id": true, "file_name": "a.jpg"}], "annotations": []}"#)
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
