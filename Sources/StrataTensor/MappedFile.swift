import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file, unmapped when released.
public final class MappedFile: @unchecked Sendable {
    /// Start of the mapped bytes (nil for an empty file).
    public let bytes: UnsafeRawPointer?
    /// Length of the file in bytes.
    public let count: Int

    /// Maps `url` read-only; fails with `TensorError.unreadable` for a missing file, a FIFO or a device.
    public init(url: URL) throws {
        let path = url.path
        // O_NONBLOCK: opening a FIFO or a device must not wait for a writer (it is refused below).
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw TensorError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TensorError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TensorError.unreadable(file: path, reason: "not a regular file")
        }
        count = Int(info.st_size)
        if count == 0 {
            bytes = nil
            return
        }
        let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw TensorError.unreadable(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawPointer(address)
    }

    /// The mapped bytes as a buffer (empty for an empty file).
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: count) }

    deinit {
        if let bytes { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
    }
}
