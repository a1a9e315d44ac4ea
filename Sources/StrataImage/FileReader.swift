#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads whole files into a reusable buffer with plain POSIX calls.
final class FileReader {
    private let buffer = GrowableBuffer<UInt8>()

    /// The bytes of the file at `path`, valid until the next call.
    func read(_ path: String) throws -> UnsafeRawBufferPointer {
        // O_NONBLOCK: opening a FIFO or a device must not wait for a writer (it is refused below).
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw ImageError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ImageError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ImageError.unreadable(file: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        let base = buffer.reserve(size + 1)
        var done = 0
        while done < size {
            #if canImport(Glibc)
            let n = Glibc.read(fd, base + done, size - done)
            #else
            let n = Darwin.read(fd, base + done, size - done)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.unreadable(file: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return UnsafeRawBufferPointer(start: base, count: done)
    }
}
