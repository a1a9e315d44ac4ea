import Foundation
import Testing
import StrataTensor
@testable import StrataCache

@Suite struct MapGrowthTests {
    static let manifest = Manifest(pipeline: "growth", columns: [
        Manifest.Column(name: "image/test/wide", modality: .image, dtype: .f32, shape: [1000]),
    ])

    static func row(_ id: UInt64) -> [Float] { (0..<1000).map { Float(id) * 1000 + Float($0) } }

    @Test func aTinyMapGrowsWithoutLosingABatch() throws {
        let cache = try TemporaryCache()
        let writer = try CacheWriter(path: cache.path, manifest: MapGrowthTests.manifest, mapSize: 64 << 10)
        let startSize = writer.mapSize
        // 12 batches of 50 × 4000 bytes, then one batch of 600 values that alone needs several doublings.
        var nextID: UInt64 = 1
        for size in Array(repeating: 50, count: 12) + [600] {
            let ids = (0..<UInt64(size)).map { nextID + $0 }
            nextID += UInt64(size)
            var batch = CacheBatch()
            try batch.add(column: "image/test/wide", ids: ids, rows: Tensor(shape: [size, 1000], floats: ids.flatMap(MapGrowthTests.row)))
            try writer.write(batch)
        }
        #expect(writer.mapSize >= 4 * 1200 * 1000)
        #expect(writer.mapSize > startSize)
        writer.close()

        let reader = try CacheReader(path: cache.path)
        #expect(reader.manifest.counts.batches == 13)
        let ids = try reader.ids(column: "image/test/wide")
        #expect(ids == Array(1..<nextID))
        for id in ids {
            #expect(try reader.value(column: "image/test/wide", id: id)?.floats == MapGrowthTests.row(id))
        }
        #expect(try CacheVerifier.verify(reader).isEmpty)
    }
}
