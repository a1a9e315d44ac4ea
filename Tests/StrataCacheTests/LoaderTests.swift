import Foundation
import Testing
import StrataTensor
@testable import StrataCache

@Suite struct LoaderTests {
    static func collect(_ epoch: LoaderEpoch) throws -> [LoadedBatch] {
        var batches: [LoadedBatch] = []
        while let batch = try epoch.next() { batches.append(batch) }
        return batches
    }

    @Test func shuffledBatchesHoldEveryValueOnceWidenedToF32() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 5, size: 8)
        let reader = try CacheReader(path: cache.path)
        var options = BatchLoaderOptions(columns: ["image/synthetic/f16", "image/synthetic/bf16", "image/synthetic/f32", "image/synthetic/i32"], batchSize: 7)
        options.seed = 42
        options.threads = 3
        options.prefetch = 2
        let loader = try BatchLoader(reader: reader, options: options)
        let batches = try LoaderTests.collect(loader.epoch(0))
        #expect(batches.count == 6)
        #expect(batches.map(\.index) == Array(0..<6))
        let order = batches.flatMap(\.ids)
        #expect(order == loader.order(epoch: 0))
        #expect(order.sorted() == (1...40).map { UInt64($0) })
        #expect(order != order.sorted())
        for batch in batches {
            #expect(batch.features["image/synthetic/f16"]?.shape == [batch.ids.count, 4])
            #expect(batch.features["image/synthetic/f32"]?.shape == [batch.ids.count, 2, 3])
            #expect(batch.features["image/synthetic/i32"]?.dtype == .i32)
            for name in options.columns {
                let feature = try #require(batch.features[name])
                let perRow = feature.count / batch.ids.count
                for (row, id) in batch.ids.enumerated() {
                    let stored = try #require(try reader.value(column: name, id: id))
                    let got = Array(feature.floats[row * perRow..<(row + 1) * perRow])
                    #expect(got == stored.converted(to: .f32).floats, "\(name) \(id)")
                }
            }
        }
    }

    @Test func orderIsFixedBySeedAndEpochWhateverTheThreads() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 4, size: 10)
        let reader = try CacheReader(path: cache.path)
        var options = BatchLoaderOptions(columns: ["image/synthetic/f16"], batchSize: 6)
        options.seed = 7
        options.threads = 1
        let single = try LoaderTests.collect(BatchLoader(reader: reader, options: options).epoch(3))
        options.threads = 4
        options.prefetch = 1
        let many = try BatchLoader(reader: reader, options: options)
        let parallel = try LoaderTests.collect(many.epoch(3))
        #expect(single.map(\.ids) == parallel.map(\.ids))
        #expect(single.map { $0.features["image/synthetic/f16"]?.floats } == parallel.map { $0.features["image/synthetic/f16"]?.floats })
        #expect(many.order(epoch: 3) != many.order(epoch: 4))
        options.seed = 8
        #expect(try BatchLoader(reader: reader, options: options).order(epoch: 3) != many.order(epoch: 3))
        options.shuffle = false
        options.dropLast = true
        let ordered = try BatchLoader(reader: reader, options: options)
        #expect(ordered.batchesPerEpoch == 6)
        #expect(try LoaderTests.collect(ordered.epoch(0)).flatMap(\.ids) == (1...36).map { UInt64($0) })
    }

    @Test func variableLengthColumnsArePaddedWithMasks() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 3, size: 7)
        let reader = try CacheReader(path: cache.path)
        var options = BatchLoaderOptions(columns: ["text/synthetic/tokens", "text/synthetic/ids"], batchSize: 5)
        options.maxLength = 3
        options.seed = 1
        let batches = try LoaderTests.collect(BatchLoader(reader: reader, options: options).epoch(0))
        #expect(batches.flatMap(\.ids).count == 21)
        for batch in batches {
            let tokens = try #require(batch.features["text/synthetic/tokens"])
            let mask = try #require(batch.masks["text/synthetic/tokens"])
            let lengths = try #require(batch.lengths["text/synthetic/tokens"])
            let longest = tokens.shape[1]
            #expect(tokens.shape == [batch.ids.count, longest, 3])
            #expect(mask.shape == [batch.ids.count, longest])
            #expect(lengths == batch.ids.map { min(SyntheticCache.length(caption: $0), 3) })
            #expect(longest == lengths.max())
            let values = tokens.floats
            let maskValues = mask.int32s
            for (row, id) in batch.ids.enumerated() {
                let stored = try #require(try reader.value(column: "text/synthetic/tokens", id: id)).converted(to: .f32).floats
                for step in 0..<longest {
                    let got = Array(values[(row * longest + step) * 3..<(row * longest + step + 1) * 3])
                    if step < lengths[row] {
                        #expect(maskValues[row * longest + step] == 1)
                        #expect(got == Array(stored[step * 3..<step * 3 + 3]))
                    } else {
                        #expect(maskValues[row * longest + step] == 0)
                        #expect(got == [0, 0, 0])
                    }
                }
            }
            let ids = try #require(batch.features["text/synthetic/ids"])
            #expect(ids.dtype == .i32)
            #expect(ids.shape[0] == batch.ids.count)
        }
    }

    @Test func aMissingValueStopsTheEpochWithAnError() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        let reader = try CacheReader(path: cache.path)
        var options = BatchLoaderOptions(columns: ["image/synthetic/unused"], batchSize: 3)
        options.ids = [1, 2, 3]
        let epoch = try BatchLoader(reader: reader, options: options).epoch(0)
        #expect(throws: CacheError.valueMissing(column: "image/synthetic/unused", id: 1, path: reader.path)) { _ = try epoch.next() }
        #expect(try epoch.next() == nil)
        #expect(throws: CacheError.self) { _ = try BatchLoader(reader: reader, options: BatchLoaderOptions(columns: ["nope"], batchSize: 3)) }
        #expect(throws: CacheError.self) { _ = try BatchLoader(reader: reader, options: BatchLoaderOptions(columns: ["image/synthetic/f16"], batchSize: 0)) }
    }

    @Test func abandoningAnEpochStopsItsWorkers() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 4, size: 10)
        let reader = try CacheReader(path: cache.path)
        let loader = try BatchLoader(reader: reader, options: BatchLoaderOptions(columns: ["image/synthetic/f32"], batchSize: 2))
        for epoch in 0..<20 {
            let running = loader.epoch(epoch)
            _ = try running.next()
        }
        // The workers of abandoned epochs released their read transactions: the map can still grow
        // (growing waits until no read transaction of the process is live).
        let before = reader.environment.mapSize
        try reader.environment.growMap()
        #expect(reader.environment.mapSize == 2 * before)
        #expect(try reader.value(column: "image/synthetic/f32", id: 40) != nil)
    }

    @Test func halfWideningIsExactForEveryBitPattern() {
        let bits = (0...UInt16.max).map { $0 }
        var f16 = [Float](repeating: 0, count: bits.count)
        var bf16 = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBytes { source in
            f16.withUnsafeMutableBufferPointer { Widening.f16ToF32(source.baseAddress!, $0.baseAddress!, count: bits.count) }
            bf16.withUnsafeMutableBufferPointer { Widening.bf16ToF32(source.baseAddress!, $0.baseAddress!, count: bits.count) }
        }
        var mismatches = 0
        for pattern in bits {
            let reference = Float(Float16(bitPattern: pattern))
            let got = f16[Int(pattern)]
            if reference.isNaN ? !got.isNaN : got.bitPattern != reference.bitPattern { mismatches += 1 }
            if bf16[Int(pattern)].bitPattern != UInt32(pattern) << 16 { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
