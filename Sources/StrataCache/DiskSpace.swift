import Foundation

/// Free space on the file system of a cache, checked before every commit so that a full disk is a
/// clear error naming the cache and the bytes needed, before LMDB fails halfway through a write.
enum DiskSpace {
    /// Bytes available to this process on the file system holding `path` (`statvfs`), or nil when unknown.
    static func available(_ path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Whether an `errno` from a write means the disk is full (or failed the write).
    static func meansFull(_ code: Int32) -> Bool {
        code == ENOSPC || code == EDQUOT || code == EIO
    }
}
