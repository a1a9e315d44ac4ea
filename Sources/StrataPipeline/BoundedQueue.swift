import Foundation

/// A blocking FIFO queue with a capacity: `push` waits while it is full (backpressure), `pop` waits
/// while it is empty, and `close` lets consumers drain what is left and then see the end.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    /// Most elements the queue holds before `push` waits.
    public let capacity: Int

    /// Time producers spent waiting for room and consumers waiting for items, in seconds.
    public private(set) var producerWaitSeconds: Double = 0
    public private(set) var consumerWaitSeconds: Double = 0

    /// Creates a queue holding at most `capacity` elements.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    private var count: Int { items.count - head }

    /// Appends an element, waiting while the queue is full. Returns false if the queue was closed.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if count >= capacity && !closed {
            let start = DispatchTime.now().uptimeNanoseconds
            while count >= capacity && !closed { condition.wait() }
            producerWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        guard !closed else { return false }
        items.append(element)
        condition.broadcast()
        return true
    }

    /// Removes the oldest element, waiting while the queue is empty; nil once closed and drained.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        if count == 0 && !closed {
            let start = DispatchTime.now().uptimeNanoseconds
            while count == 0 && !closed { condition.wait() }
            consumerWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        guard count > 0 else { return nil }
        let element = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// Ends the queue: pending pops drain the remaining elements, then return nil; pushes are refused.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs `count` worker threads and waits for all of them.
public enum Workers {
    /// Starts `count` threads named `name-i` running `body(i)` and returns when all have finished.
    public static func run(_ name: String, count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        start(name, count: count, body).wait()
    }

    /// Starts the threads and returns at once; `wait()` on the returned group joins them.
    public static func start(_ name: String, count: Int, _ body: @escaping @Sendable (Int) -> Void) -> DispatchGroup {
        let group = DispatchGroup()
        for index in 0..<max(1, count) {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        return group
    }
}

/// Puts out-of-order results back in sequence order: `insert(seq, value)` returns every value that
/// is now next in line.
public struct ReorderBuffer<Element> {
    private var pending: [Int: Element] = [:]
    /// The sequence number expected next.
    public private(set) var next: Int

    /// Starts expecting sequence number `first`.
    public init(first: Int = 0) {
        next = first
    }

    /// Adds a result and returns the run of results that can now be released, in order.
    public mutating func insert(_ sequence: Int, _ value: Element) -> [Element] {
        pending[sequence] = value
        var ready: [Element] = []
        while let value = pending.removeValue(forKey: next) {
            ready.append(value)
            next += 1
        }
        return ready
    }

    /// Results held back waiting for an earlier one.
    public var waiting: Int { pending.count }
}
