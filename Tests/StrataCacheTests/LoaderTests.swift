import Foundation
import Testing
import StrataTensor
@testable import StrataCache
import StrataTestSupport

@Suite struct LoaderTests {
    static func collect(_ run: LoaderRun) throws -> [LoadedBatch] {
        var batches: [LoadedBatch] = []
        while let batch = try run.next() { batches.append(batch) }
        return batches
    }

    /// Requests of `size` images (and their captions) in a seeded shuffled order.
    static func requests(ids: [UInt64], size: Int, seed: UInt64) -> [LoaderRequest] {
        var generator = ShuffleOrder.generator(seed: seed, epoch: 0)
        let order = ShuffleOrder.positions(count: ids.count, block: 4, window: 12, generator: &generator).map { ids[$0] }
        return stride(from: 0, to: order.count, by: size).map { start in
            let images = Array(order[start..<min(start + size, order.count)])
            return LoaderRequest(imageIDs: images, captionIDs: images.map { $0 + SyntheticCache.captionOffset })
        }
    }

    @Test func batchesHoldTheRequestedValuesWidenedToF32AsTokens() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 5, size: 8)
        let reader = try CacheReader(path: cache.path)
        let columns = ["image/synthetic/f16", "image/synthetic/bf16", "image/synthetic/f32", "image/synthetic/i32"]
        var options = LoaderOptions()
        options.threads = 3
        options.prefetch = 2
        let loader = try StreamingLoader(reader: reader, columns: columns, options: options)
        let requests = LoaderTests.requests(ids: (1...40).map { UInt64($0) }, size: 7, seed: 42)
        let batches = try LoaderTests.collect(loader.run(requests))
        #expect(batches.map(\.index) == Array(0..<6))
        #expect(batches.map(\.request) == requests)
        for batch in batches {
            let rows = batch.request.imageIDs.count
            #expect(try batch.column("image/synthetic/f16").values.shape == [rows, 1, 4])
            #expect(try batch.column("image/synthetic/f32").values.shape == [rows, 2, 3])  // [2, 3]: 2 tokens of 3
            #expect(try batch.column("image/synthetic/i32").values.dtype == .i32)
            for name in columns {
                let column = try batch.column(name)
                #expect(column.mask == nil)
                let values = column.values.floats
                let perRow = values.count / rows
                for (row, id) in batch.request.imageIDs.enumerated() {
                    let stored = try #require(try reader.value(column: name, id: id))
                    #expect(Array(values[row * perRow..<(row + 1) * perRow]) == stored.converted(to: .f32).floats, "\(name) \(id)")
                }
            }
        }
        #expect(throws: CacheError.self) { _ = try batches[0].column("text/synthetic/ids") }
    }

    @Test func buffersAreReusedOnceTheConsumerLetsGoAndNeverWhileItHoldsThem() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 8, size: 10)
        let reader = try CacheReader(path: cache.path)
        var options = LoaderOptions()
        options.threads = 2
        options.prefetch = 2
        let loader = try StreamingLoader(reader: reader, columns: ["image/synthetic/f16"], options: options)
        let requests = LoaderTests.requests(ids: (1...80).map { UInt64($0) }, size: 4, seed: 3)
        // A consumer that drops each batch: a handful of buffers serve all 20 batches.
        var addresses = Set<Int>()
        let run = loader.run(requests)
        while let batch = try run.next() {
            addresses.insert(Int(bitPattern: try batch.column("image/synthetic/f16").values.storage.bytes))
        }
        #expect(addresses.count <= 6, "\(addresses.count) buffers for 20 batches")
        // A consumer that keeps every batch: nothing it holds is overwritten.
        let kept = try LoaderTests.collect(loader.run(requests))
        for batch in kept {
            let values = try batch.column("image/synthetic/f16").values.floats
            for (row, id) in batch.request.imageIDs.enumerated() {
                let stored = try #require(try reader.value(column: "image/synthetic/f16", id: id)).floats
                #expect(Array(values[row * 4..<(row + 1) * 4]) == stored)
            }
        }
    }

    @Test func variableLengthColumnsArePaddedWithMasks() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 3, size: 7)
        let reader = try CacheReader(path: cache.path)
        var options = LoaderOptions()
        options.maxLength = 3
        let loader = try StreamingLoader(reader: reader, columns: ["text/synthetic/tokens", "text/synthetic/ids"], options: options)
        let batches = try LoaderTests.collect(loader.run(LoaderTests.requests(ids: (1...21).map { UInt64($0) }, size: 5, seed: 1)))
        #expect(batches.flatMap(\.request.captionIDs).count == 21)
        var masked = 0
        for batch in batches {
            let ids = batch.request.captionIDs
            let tokens = try batch.column("text/synthetic/tokens")
            let lengths = tokens.lengths
            let longest = tokens.values.shape[1]
            #expect(tokens.values.shape == [ids.count, longest, 3])
            #expect(lengths == ids.map { min(SyntheticCache.length(caption: $0), 3) })
            #expect(longest == lengths.max())
            let values = tokens.values.floats
            let mask = tokens.mask?.floats
            if mask != nil { masked += 1 }
            #expect((mask == nil) == lengths.allSatisfy { $0 == longest })
            for (row, id) in ids.enumerated() {
                let stored = try #require(try reader.value(column: "text/synthetic/tokens", id: id)).converted(to: .f32).floats
                for step in 0..<longest {
                    let got = Array(values[(row * longest + step) * 3..<(row * longest + step + 1) * 3])
                    if step < lengths[row] {
                        #expect(mask.map { $0[row * longest + step] == 1 } ?? true)
                        #expect(got == Array(stored[step * 3..<step * 3 + 3]))
                    } else {
                        #expect(mask?[row * longest + step] == 0)
                        #expect(got == [0, 0, 0])
                    }
                }
            }
            let tokenIDs = try batch.column("text/synthetic/ids")
            #expect(tokenIDs.values.dtype == .i32)
            #expect(tokenIDs.values.shape[0] == ids.count)
        }
        #expect(masked > 0)
    }

    @Test func mapsBecomeChannelsLastTokens() {
        let (channels, positions) = (37, 5)
        let source = (0..<(channels * positions)).map { Float($0) }
        var output = [Float](repeating: -1, count: source.count)
        source.withUnsafeBufferPointer { s in
            output.withUnsafeMutableBufferPointer { Widening.transpose(s.baseAddress!, channels: channels, positions: positions, into: $0.baseAddress!) }
        }
        for p in 0..<positions {
            for c in 0..<channels { #expect(output[p * channels + c] == source[c * positions + p]) }
        }
        let layout = TokenLayout(Manifest.Column(name: "m", modality: .image, dtype: .f16, shape: [8, 7, 7]))
        #expect(layout == TokenLayout(Manifest.Column(name: "n", modality: .image, dtype: .f32, shape: [8, 7, 7])))
        #expect(layout.width == 8 && layout.fixedTokens == 49 && layout.transposed)
    }

    @Test func blockShuffleIsAPermutationFixedBySeedAndEpoch() {
        func order(_ seed: UInt64, _ epoch: Int, window: Int = 10) -> [Int] {
            var generator = ShuffleOrder.generator(seed: seed, epoch: epoch)
            return ShuffleOrder.positions(count: 103, block: 8, window: window, generator: &generator)
        }
        #expect(order(7, 3).sorted() == Array(0..<103))
        #expect(order(7, 3) == order(7, 3))
        #expect(order(7, 3) != order(7, 4))
        #expect(order(8, 3) != order(7, 3))
        // Without the window shuffle, blocks of 8 consecutive items stay together, in a shuffled order.
        let blocks = order(7, 3, window: 1)
        #expect(blocks != Array(0..<103))
        var i = 0
        while i < blocks.count {
            let start = blocks[i]
            let length = min(8, 103 - start)
            #expect(start % 8 == 0)
            #expect(Array(blocks[i..<min(i + length, blocks.count)]) == Array(start..<start + length))
            i += length
        }
    }

    @Test func aMissingValueStopsTheRunWithAnError() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 2, size: 4)
        let reader = try CacheReader(path: cache.path)
        let run = try StreamingLoader(reader: reader, columns: ["image/synthetic/unused"]).run([LoaderRequest(imageIDs: [1, 2, 3])])
        #expect(throws: CacheError.valueMissing(column: "image/synthetic/unused", id: 1, path: reader.path)) { _ = try run.next() }
        #expect(try run.next() == nil)
        #expect(throws: CacheError.self) { _ = try StreamingLoader(reader: reader, columns: ["nope"]) }
        var options = LoaderOptions()
        options.threads = 0
        #expect(throws: CacheError.self) { _ = try StreamingLoader(reader: reader, columns: ["image/synthetic/f16"], options: options) }
    }

    @Test func abandoningARunStopsItsWorkers() throws {
        let cache = try TemporaryCache()
        try writeSynthetic(cache, batches: 4, size: 10)
        let reader = try CacheReader(path: cache.path)
        let loader = try StreamingLoader(reader: reader, columns: ["image/synthetic/f32"])
        let requests = (1...40).map { LoaderRequest(imageIDs: [UInt64($0)]) }
        for _ in 0..<20 {
            let running = loader.run(requests)
            _ = try running.next()
        }
        // The workers of abandoned runs released their read transactions: the map can still grow
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
        // The portable path, which CPUs without F16C run, agrees bit for bit (NaN for NaN).
        var portable = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBytes { source in
            portable.withUnsafeMutableBufferPointer { Widening.portableF16ToF32(source.baseAddress!, $0.baseAddress!, count: bits.count) }
        }
        #expect(zip(portable, f16).allSatisfy { $0.isNaN ? $1.isNaN : $0.bitPattern == $1.bitPattern })
    }

    @Test(arguments: [(2048, 49), (13, 49), (8, 8), (16, 7), (3, 1), (9, 17)])
    func transposedHalfWideningEqualsWideningThenTransposing(channels: Int, positions: Int) {
        // Every bit pattern's neighbourhood: a pseudo-random walk over finite and special halves.
        var state: UInt32 = 12345
        let halves = (0..<(channels * positions)).map { _ -> UInt16 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt16(truncatingIfNeeded: state >> 16)
        }
        var expected = [Float](repeating: 0, count: halves.count)
        var widened = [Float](repeating: 0, count: halves.count)
        var got = [Float](repeating: .nan, count: halves.count)
        var scratch = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { source in
            widened.withUnsafeMutableBufferPointer { Widening.portableF16ToF32(source.baseAddress!, $0.baseAddress!, count: halves.count) }
            widened.withUnsafeBufferPointer { w in
                expected.withUnsafeMutableBufferPointer { Widening.transpose(w.baseAddress!, channels: channels, positions: positions, into: $0.baseAddress!) }
            }
            got.withUnsafeMutableBufferPointer { out in
                scratch.withUnsafeMutableBufferPointer {
                    Widening.widenTransposed(source.baseAddress!, .f16, channels: channels, positions: positions,
                                             into: out.baseAddress!, scratch: $0.baseAddress!)
                }
            }
        }
        // got[p * channels + c] is half c * positions + p.
        for (c, p) in [(0, 0), (channels - 1, positions - 1), (channels / 2, positions / 3)] {
            let half = Float(Float16(bitPattern: halves[c * positions + p]))
            let value = got[p * channels + c]
            #expect(half.isNaN ? value.isNaN : value.bitPattern == half.bitPattern, "c \(c) p \(p)")
        }
        #expect(zip(expected, got).allSatisfy { $0.isNaN ? $1.isNaN : $0.bitPattern == $1.bitPattern }, "\(channels)x\(positions)")
    }
}
