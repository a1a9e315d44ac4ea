import Foundation

/// Runs workers whose gemms must each stay on the worker's thread.
///
/// With Strata's kernels, each worker marks its own thread (`Kernels.onCallingThreadOnly`) and nothing
/// process-wide changes. With OpenBLAS, whose thread count is process-wide, it is set to one thread for the
/// region and restored when the last region that overlaps in time ends (encoders on different threads may
/// enter at once); the encoder must then be the only BLAS caller, as in one-encoder runs.
public enum SingleThreadedBLAS {
    private nonisolated(unsafe) static var active = 0
    private nonisolated(unsafe) static var saved = 1
    private static let lock = NSLock()

    /// Whether each worker can be kept single-threaded on its own.
    private static var perThread: Bool { GemmBackend.usesStrataKernels }

    /// The threads a gemm called here may use, as set outside any region.
    public static var configuredThreads: Int {
        if perThread { return Kernels.gemmThreads }
        lock.lock()
        defer { lock.unlock() }
        return active > 0 ? saved : Kernels.blasThreads
    }

    /// Runs `body(worker)` for `workers` workers at once, each with single-threaded gemms.
    public static func concurrentPerform(workers: Int, _ body: (Int) -> Void) {
        if perThread {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                Kernels.onCallingThreadOnly { body(worker) }
            }
            return
        }
        lock.lock()
        if active == 0 {
            saved = Kernels.blasThreads
            Kernels.setBLASThreads(1)
        }
        active += 1
        lock.unlock()
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        lock.lock()
        active -= 1
        if active == 0 { Kernels.setBLASThreads(saved) }
        lock.unlock()
    }
}
