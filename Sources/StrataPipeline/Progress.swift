import Foundation

/// Time and item counts of one pipeline stage, summed over its workers.
public final class StageMetrics: @unchecked Sendable {
    /// The stage's name (`decode`, `encode_image`, ...).
    public let name: String
    /// Number of workers the stage ran.
    public let workers: Int
    private let lock = NSLock()
    private var itemCount = 0
    private var busy: Double = 0

    /// Creates the metrics of a stage with `workers` workers.
    public init(name: String, workers: Int) {
        self.name = name
        self.workers = workers
    }

    /// Times `body` as work on `items` items.
    @discardableResult
    public func measure<T>(items: Int, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.lock()
            itemCount += items
            busy += seconds
            lock.unlock()
        }
        return try body()
    }

    /// Items processed so far.
    public var items: Int { lock.lock(); defer { lock.unlock() }; return itemCount }
    /// Seconds the workers spent working (not waiting), summed.
    public var busySeconds: Double { lock.lock(); defer { lock.unlock() }; return busy }
}

/// Counts what a build has done and shows it: a progress bar with rate and ETA on a terminal,
/// a `progress key=value ...` log line every few seconds otherwise.
public final class BuildProgress: @unchecked Sendable {
    /// One thing being counted, e.g. images or captions.
    struct Counter {
        let name: String
        let total: Int
        var done: Int
        let startedWith: Int
    }

    private let lock = NSLock()
    private var counters: [Counter]
    private let interactive: Bool
    private let interval: Double
    private let startTime = DispatchTime.now().uptimeNanoseconds
    private var stopped = false
    private var timer: Thread?
    private let write: @Sendable (String) -> Void

    /// Tracks `totals` (name, total, already done before this run), printing through `write`.
    /// `interactive` draws a bar that redraws in place; otherwise a log line every `interval` seconds.
    public init(totals: [(name: String, total: Int, alreadyDone: Int)], interactive: Bool,
                interval: Double? = nil, write: @escaping @Sendable (String) -> Void) {
        counters = totals.map { Counter(name: $0.name, total: $0.total, done: $0.alreadyDone, startedWith: $0.alreadyDone) }
        self.interactive = interactive
        self.interval = interval ?? (interactive ? 0.25 : 10)
        self.write = write
    }

    /// Whether standard error is a terminal.
    public static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    /// Adds `count` to the counter called `name`.
    public func advance(_ name: String, by count: Int) {
        lock.lock()
        if let index = counters.firstIndex(where: { $0.name == name }) { counters[index].done += count }
        lock.unlock()
    }

    /// Seconds since the build started.
    public var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - startTime) / 1e9 }

    /// Starts printing periodically on a background thread.
    public func start() {
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                Thread.sleep(forTimeInterval: self.interval)
                if !self.isStopped { self.write(self.render()) }
            }
        }
        thread.name = "progress"
        timer = thread
        thread.start()
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    /// Stops printing and prints the final state once.
    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        write(render() + (interactive ? "\n" : ""))
    }

    /// The current line: a bar per counter on a terminal, key=value pairs otherwise.
    public func render() -> String {
        lock.lock()
        let snapshot = counters
        lock.unlock()
        let seconds = max(elapsed, 1e-9)
        if interactive {
            let parts = snapshot.map { counter -> String in
                let fraction = counter.total > 0 ? Double(counter.done) / Double(counter.total) : 1
                let width = 20
                let filled = min(width, Int(fraction * Double(width)))
                let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
                let rate = Double(counter.done - counter.startedWith) / seconds
                return "\(counter.name) \(bar) \(counter.done)/\(counter.total) "
                    + String(format: "%.1f/s", rate) + " ETA " + BuildProgress.duration(eta(counter, rate: rate))
            }
            return "\r" + parts.joined(separator: "  ") + "\u{1B}[K"
        }
        var fields = ["progress", String(format: "elapsed=%.1fs", seconds)]
        for counter in snapshot {
            let rate = Double(counter.done - counter.startedWith) / seconds
            fields.append("\(counter.name)=\(counter.done)/\(counter.total)")
            fields.append(String(format: "\(counter.name)_rate=%.2f/s", rate))
            let remaining = eta(counter, rate: rate)
            fields.append("\(counter.name)_eta=" + (remaining.isFinite ? String(format: "%.0fs", remaining) : "unknown"))
        }
        return fields.joined(separator: " ") + "\n"
    }

    private func eta(_ counter: Counter, rate: Double) -> Double {
        let left = Double(counter.total - counter.done)
        if left <= 0 { return 0 }
        return rate > 0 ? left / rate : .infinity
    }

    /// `83` → `1m23s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return "\(total / 3600)h\(String(format: "%02d", total % 3600 / 60))m" }
        if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total)s"
    }
}
