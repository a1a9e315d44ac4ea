import Foundation
import Testing
@testable import StrataPipeline

@Suite struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(of: Data(repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func piecewiseUpdatesEqualOneUpdate() {
        let bytes = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var hash = SHA256()
        for split in stride(from: 0, to: bytes.count, by: 37) { hash.update(bytes[split..<min(split + 37, bytes.count)]) }
        #expect(hash.finalizeHex() == SHA256.hex(of: bytes))
    }

    @Test func fileDigestEqualsDataDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let bytes = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0) })
        try bytes.write(to: url)
        #expect(try SHA256.hex(ofFileAt: url) == SHA256.hex(of: bytes))
    }
}
