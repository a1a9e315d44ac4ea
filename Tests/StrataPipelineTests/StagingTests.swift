import Foundation
import Testing
@testable import StrataPipeline

@Suite struct StagingTests {
    @Test func queueDeliversEverythingOnceAcrossThreads() {
        let queue = BoundedQueue<Int>(capacity: 4)
        let producers = Workers.start("producer", count: 3) { index in
            for value in stride(from: index, to: 3000, by: 3) { queue.push(value) }
        }
        let lock = NSLock()
        nonisolated(unsafe) var seen: [Int] = []
        let consumers = Workers.start("consumer", count: 2) { _ in
            while let value = queue.pop() {
                lock.lock(); seen.append(value); lock.unlock()
            }
        }
        producers.wait()
        queue.close()
        consumers.wait()
        #expect(seen.count == 3000)
        #expect(Set(seen).count == 3000)
    }

    @Test func pushWaitsWhileFull() {
        let queue = BoundedQueue<Int>(capacity: 2)
        queue.push(1)
        queue.push(2)
        let pushed = DispatchSemaphore(value: 0)
        let thread = Thread {
            queue.push(3)
            pushed.signal()
        }
        thread.start()
        #expect(pushed.wait(timeout: .now() + 0.2) == .timedOut, "push must wait while the queue is full")
        #expect(queue.pop() == 1)
        #expect(pushed.wait(timeout: .now() + 5) == .success)
        #expect(queue.pop() == 2)
        #expect(queue.pop() == 3)
        #expect(queue.producerWaitSeconds > 0.1)
    }

    @Test func closeDrainsThenEnds() {
        let queue = BoundedQueue<String>(capacity: 8)
        queue.push("a")
        queue.push("b")
        queue.close()
        #expect(queue.push("c") == false)
        #expect(queue.pop() == "a")
        #expect(queue.pop() == "b")
        #expect(queue.pop() == nil)
    }

    @Test func reorderBufferReleasesInSequence() {
        var buffer = ReorderBuffer<String>()
        #expect(buffer.insert(2, "c").isEmpty)
        #expect(buffer.insert(1, "b").isEmpty)
        #expect(buffer.waiting == 2)
        #expect(buffer.insert(0, "a") == ["a", "b", "c"])
        #expect(buffer.insert(4, "e").isEmpty)
        #expect(buffer.insert(3, "d") == ["d", "e"])
        #expect(buffer.next == 5)
    }

    @Test func progressLogLineAndBar() {
        let progress = BuildProgress(totals: [("images", 100, 40), ("captions", 500, 0)], interactive: false) { _ in }
        progress.advance("images", by: 10)
        progress.advance("captions", by: 50)
        let line = progress.render()
        #expect(line.hasPrefix("progress elapsed="))
        #expect(line.contains("images=50/100"))
        #expect(line.contains("captions=50/500"))
        #expect(line.contains("images_eta="))
        let bar = BuildProgress(totals: [("images", 4, 0)], interactive: true) { _ in }
        bar.advance("images", by: 2)
        let drawn = bar.render()
        #expect(drawn.hasPrefix("\r"))
        #expect(drawn.contains("██████████··········"))
        #expect(drawn.contains("2/4"))
    }

    @Test func durationsReadWell() {
        #expect(BuildProgress.duration(42) == "42s")
        #expect(BuildProgress.duration(83) == "1m23s")
        #expect(BuildProgress.duration(7322) == "2h02m")
        #expect(BuildProgress.duration(.infinity) == "--")
    }

    @Test func stageMetricsSumWork() {
        let metrics = StageMetrics(name: "decode", workers: 2)
        Workers.run("metrics", count: 2) { _ in
            for _ in 0..<5 { metrics.measure(items: 3) { usleep(1000) } }
        }
        #expect(metrics.items == 30)
        #expect(metrics.busySeconds >= 0.01)
    }
}
