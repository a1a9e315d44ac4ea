import Foundation
import StrataCache
import StrataTensor

/// `bench/run cache [--samples N] [--dir DIR] [--keep] [--loader-only]`: cache write MB/s against py-lmdb
/// writing the same values, and the shuffled loader's batches/s and GB/s of f32 output against a py-lmdb
/// + numpy loop, on pooled features (2048 + 768 f16 per sample). `--keep` leaves DIR in place;
/// `--loader-only` times only Strata's loader on the cache a `--keep` run left in DIR.
enum CacheBench {
    static let columns = [
        Manifest.Column(name: "image/resnet50/pool", modality: .image, dtype: .f16, shape: [2048], encoder: "resnet50", level: "pool", pooling: "avg"),
        Manifest.Column(name: "text/bert/pooled", modality: .image, dtype: .f16, shape: [768], encoder: "bert", layer: 12, pooling: "cls"),
    ]

    static func run(_ arguments: [String]) throws {
        var samples = 100_000
        var directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-cache-bench-\(getpid())").path
        var index = 0
        while index + 1 < arguments.count {
            if arguments[index] == "--samples", let value = Int(arguments[index + 1]) { samples = value }
            if arguments[index] == "--dir" { directory = arguments[index + 1] }
            index += 2
        }
        let keep = arguments.contains("--keep")
        let strataPath = directory + "/strata"
        if arguments.contains("--loader-only") {
            let loader = try timeLoader(path: strataPath)
            print(String(format: "cache loader: %.1f batch/s, %.2f GB/s of f32, %.2f GB per CPU-second (%d threads)",
                         loader.batchesPerSecond, loader.gigabytesPerSecond, loader.gigabytesPerCPUSecond, loader.threads))
            return
        }
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }

        // Values prepared beforehand, as an encoder stage would hand them over: [B, D] f16 batch tensors.
        let batchSize = 1024
        var batches: [CacheBatch] = []
        var generator = SplitMix64(seed: 1)
        for start in stride(from: 0, to: samples, by: batchSize) {
            let ids = (start..<min(start + batchSize, samples)).map { UInt64($0 + 1) }
            var batch = CacheBatch()
            for column in columns {
                var tensor = Tensor(zeros: [ids.count] + column.fixedShape, dtype: .f16)
                tensor.withUnsafeMutableBytes { bytes in
                    let halves = bytes.bindMemory(to: UInt16.self)
                    // Finite halves with random mantissas: exponents 0x3000...0x4BFF.
                    for i in halves.indices { halves[i] = UInt16(truncatingIfNeeded: generator.next() % 0x1C00 + 0x3000) | (i & 1 == 0 ? 0 : 0x8000) }
                }
                try batch.add(column: column.name, ids: ids, rows: tensor)
            }
            batches.append(batch)
        }
        let valueBytes = Double(samples * columns.reduce(0) { $0 + $1.rowBytes })

        let writeSeconds = try Stopwatch.time {
            let writer = try CacheWriter(path: strataPath, manifest: Manifest(pipeline: "bench", columns: columns))
            for batch in batches { try writer.write(batch) }
            writer.close()
        }
        batches = []
        let writeMBs = valueBytes / writeSeconds / 1e6

        let loader = try timeLoader(path: strataPath)

        let peer = try Peer.run("cache.py", [strataPath, directory + "/peer", String(batchSize), "256"])
        let peerWrite = peer["write_mb_s"] as? Double ?? .nan
        let peerBatches = peer["loader_batches_s"] as? Double ?? .nan
        let peerGB = peer["loader_gb_s"] as? Double ?? .nan
        let peerGBPerCPU = peer["loader_gb_per_cpu_s"] as? Double ?? .nan

        print("cache: \(samples) samples of 2048 + 768 f16 (\(String(format: "%.0f", valueBytes / 1e6)) MB), \(ProcessInfo.processInfo.activeProcessorCount) cores, loader threads \(loader.threads)")
        print(String(format: "  write   strata %8.1f MB/s    py-lmdb %8.1f MB/s    ratio %.2fx", writeMBs, peerWrite, writeMBs / peerWrite))
        print(String(format: "  loader  strata %8.1f batch/s  py-lmdb %8.1f batch/s  ratio %.2fx  (batch 256, shuffled, f32 out)",
                     loader.batchesPerSecond, peerBatches, loader.batchesPerSecond / peerBatches))
        print(String(format: "          strata %8.2f GB/s     py-lmdb %8.2f GB/s     ratio %.2fx",
                     loader.gigabytesPerSecond, peerGB, loader.gigabytesPerSecond / peerGB))
        print(String(format: "          strata %8.2f GB/CPU-s py-lmdb %8.2f GB/CPU-s ratio %.2fx  (per CPU-second of the process: cores are shared)",
                     loader.gigabytesPerCPUSecond, peerGBPerCPU, loader.gigabytesPerCPUSecond / peerGBPerCPU))
    }

    /// One warm-up epoch, then one timed epoch of the shuffled loader over both columns.
    static func timeLoader(path: String) throws
        -> (batchesPerSecond: Double, gigabytesPerSecond: Double, gigabytesPerCPUSecond: Double, threads: Int) {
        let reader = try CacheReader(path: path)
        var options = LoaderOptions()
        options.prefetch = 8
        let loader = try StreamingLoader(reader: reader, columns: columns.map(\.name), options: options)
        let ids = try reader.ids(column: columns[0].name)
        var loaded = 0
        var outputBytes = 0
        let epoch = { (number: Int) throws in
            loaded = 0
            outputBytes = 0
            var generator = ShuffleOrder.generator(seed: 3, epoch: number)
            let order = ShuffleOrder.positions(count: ids.count, block: 64, window: 256 * 8, generator: &generator).map { ids[$0] }
            let requests = stride(from: 0, to: order.count, by: 256).map { start in
                let rows = Array(order[start..<min(start + 256, order.count)])
                return LoaderRequest(imageIDs: rows, captionIDs: rows)
            }
            let running = loader.run(requests)
            while let batch = try running.next() {
                loaded += 1
                outputBytes += batch.columns.values.reduce(0) { $0 + $1.values.byteCount }
            }
        }
        try epoch(0)  // warm the page cache and the B-trees
        let cpuStart = processCPUSeconds()
        let seconds = try Stopwatch.time { try epoch(1) }
        let cpuSeconds = processCPUSeconds() - cpuStart
        return (Double(loaded) / seconds, Double(outputBytes) / seconds / 1e9, Double(outputBytes) / cpuSeconds / 1e9, options.threads)
    }

    /// CPU time used by all threads of this process so far.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
