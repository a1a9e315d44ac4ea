import Foundation

/// An exclusive `flock` on a file in the cache directory: one writer at a time across processes and
/// within a process. The kernel drops it when the holder dies, even by SIGKILL.
final class WriterLock {
    private var descriptor: Int32

    /// Takes the lock or throws `CacheError.writerBusy` at once.
    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(CacheLayout.writerLockFile)
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CacheError.io(path: path, reason: "cannot open writer lock: \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(descriptor)
            descriptor = -1
            if code == EWOULDBLOCK { throw CacheError.writerBusy(path: directory) }
            throw CacheError.io(path: path, reason: "cannot lock: \(String(cString: strerror(code)))")
        }
    }

    /// Releases the lock; later calls are no-ops.
    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
