import Foundation
import StrataCache
import StrataImage
import StrataTestSupport
import Testing

/// Typed errors for bad input, and no crash on damaged or random bytes.
@Suite struct ErrorTests {
    private func kind(of bytes: [UInt8], options: DecodeOptions = DecodeOptions()) -> String? {
        do {
            _ = try bytes.withUnsafeBytes { try ImageDecoder.decode($0, name: "sample", options: options) }
            return nil
        } catch let error as ImageError {
            #expect(error.description.hasPrefix("sample: "))
            return error.kind
        } catch {
            Issue.record("untyped error \(error)")
            return "untyped"
        }
    }

    private func bytes(_ relativePath: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: SharedData.url(relativePath)))
    }

    @Test func failureRecordsAreClassifiedByTheirKind() {
        let errors: [ImageError] = [
            .unreadable(file: "a.jpg", reason: "No such file"), .empty(file: "a.jpg"),
            .unsupportedFormat(file: "a.gif", format: "GIF"), .truncated(file: "a.jpg", detail: "premature end"),
            .corrupt(file: "a.png", detail: "bad CRC"), .tooManyPixels(file: "a.png", width: 9, height: 9, limit: 80),
            .invalidParameter(name: "std", value: "0", reason: "must be positive"),
        ]
        for error in errors {
            // As the build records it: the file name, then the error.
            #expect(ImageError.kind(describedBy: "a.jpg: \(error)") == error.kind, "\(error)")
        }
        #expect(ImageError.kind(describedBy: "image encoder: shapes do not fit") == nil)
    }

    @Test func fileProblemsAreTyped() throws {
        let directory = try SharedData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = directory.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        #expect(throws: ImageError.empty(file: empty.path)) { try ImageDecoder.decode(contentsOf: empty.path) }
        let missing = directory.appendingPathComponent("missing.jpg").path
        #expect(throws: ImageError.unreadable(file: missing, reason: "No such file or directory")) {
            try ImageDecoder.decode(contentsOf: missing)
        }
        #expect(throws: ImageError.unreadable(file: directory.path, reason: "not a regular file")) {
            try ImageDecoder.decode(contentsOf: directory.path)
        }
    }

    @Test func otherFormatsAreSniffedAndRefused() {
        let magics: [(String, [UInt8])] = [
            ("GIF", Array("GIF89a".utf8)), ("TIFF", [0x49, 0x49, 0x2A, 0x00]), ("TIFF", [0x4D, 0x4D, 0x00, 0x2A]),
            ("WebP", Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBP".utf8)), ("BMP", Array("BM".utf8)),
            ("HEIF/AVIF", [0, 0, 0, 0x18] + Array("ftypavif".utf8)),
        ]
        for (format, magic) in magics {
            let data = magic + [UInt8](repeating: 7, count: 64)
            #expect(throws: ImageError.unsupportedFormat(file: "x", format: format)) {
                try data.withUnsafeBytes { try ImageDecoder.decode($0, name: "x") }
            }
        }
        #expect(kind(of: Array("hello, world".utf8)) == "unsupported")
    }

    @Test func truncatedFilesAreTruncatedErrors() throws {
        let jpeg = try bytes("data/coco-mini/val2017/000000000139.jpg")
        let progressive = try bytes("data/odd-images/coffee_progressive.jpg")
        let png = try bytes("data/odd-images/coffee_rgb16.png")
        for data in [jpeg, progressive, png] {
            for fraction in [0.3, 0.6, 0.9] {
                let cut = Array(data.prefix(Int(Double(data.count) * fraction)))
                #expect(kind(of: cut) == "truncated", "cut at \(fraction)")
            }
        }
        // Pillow's LOAD_TRUNCATED_IMAGES counterpart: the decoded part is kept.
        let half = Array(jpeg.prefix(jpeg.count / 2))
        #expect(kind(of: half, options: DecodeOptions(allowTruncated: true)) == nil)
    }

    @Test func damagedAndRandomBytesNeverCrash() throws {
        var generator = SplitMix64(seed: 42)
        let sources = [try bytes("data/odd-images/coffee_420.jpg"), try bytes("data/odd-images/coffee_progressive.jpg"),
                       try bytes("data/odd-images/coffee_cmyk_adobe.jpg"), try bytes("data/odd-images/coffee_palette256.png"),
                       try bytes("data/odd-images/opencv_mask_LA.png")]
        var outcomes: [String: Int] = [:]
        for source in sources {
            // Truncation at many lengths, including inside the headers.
            for length in stride(from: 0, to: source.count, by: max(source.count / 40, 1)) {
                outcomes[kind(of: Array(source.prefix(length))) ?? "decoded", default: 0] += 1
            }
            // Random byte flips.
            for _ in 0..<25 {
                var damaged = source
                for _ in 0..<8 {
                    let at = Int(generator.next() % UInt64(damaged.count))
                    damaged[at] = UInt8(truncatingIfNeeded: generator.next())
                }
                outcomes[kind(of: damaged) ?? "decoded", default: 0] += 1
            }
        }
        // Random bytes behind each decoder's magic number.
        for magic in [[0xFF, 0xD8, 0xFF] as [UInt8], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]] {
            for _ in 0..<50 {
                let count = Int(generator.next() % 4096)
                let data = magic + (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                outcomes[kind(of: data) ?? "decoded", default: 0] += 1
            }
        }
        #expect(outcomes["untyped"] == nil)
        #expect((outcomes["truncated"] ?? 0) > 0 && (outcomes["corrupt"] ?? 0) > 0)
    }

    @Test func pixelLimitRefusesBeforeDecoding() throws {
        let jpeg = try bytes("data/odd-images/coffee_420.jpg")
        #expect(throws: ImageError.tooManyPixels(file: "sample", width: 600, height: 400, limit: 1000)) {
            try jpeg.withUnsafeBytes { try ImageDecoder.decode($0, name: "sample", options: DecodeOptions(maxPixels: 1000)) }
        }
        // A header announcing 60000 x 60000 is refused with the default limit, before any allocation.
        var bomb = jpeg
        if let sof = (0..<bomb.count - 9).first(where: { bomb[$0] == 0xFF && (bomb[$0 + 1] == 0xC0 || bomb[$0 + 1] == 0xC2) }) {
            bomb[sof + 5] = 0xEA; bomb[sof + 6] = 0x60; bomb[sof + 7] = 0xEA; bomb[sof + 8] = 0x60
        }
        #expect(kind(of: bomb) == "too_many_pixels")

        var png = try bytes("data/odd-images/pillow_rgb_trns.png")
        png.replaceSubrange(16..<24, with: [0, 1, 0, 0, 0, 1, 0, 0] as [UInt8])   // 65536 x 65536
        let crc = CRC32.checksum(png[12..<29])
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect(kind(of: png) == "too_many_pixels")
    }

    @Test func invalidOptionsAreRejected() {
        #expect(throws: ImageError.self) { try ImagePreprocessor(options: PreprocessOptions(resize: .shorterSide(0))) }
        #expect(throws: ImageError.self) { try ImagePreprocessor(options: PreprocessOptions(std: [1, 0, 1])) }
        #expect(throws: ImageError.self) { try ImagePreprocessor(options: PreprocessOptions(mean: [0.5])) }
        #expect(throws: ImageError.self) {
            try ImagePreprocessor(options: PreprocessOptions(crop: ImageSize(width: 0, height: 3)))
        }
    }
}

/// The CRC-32 of PNG chunks.
enum CRC32 {
    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }
}
