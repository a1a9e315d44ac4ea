import Foundation

/// An LMDB 0.9 `data.mdb` read with `pread` alone, never through a memory map, so that a truncated
/// or damaged file becomes a `CacheError.damaged` (or a list of problems) instead of a SIGBUS or an
/// assertion inside LMDB.
///
/// The layout (LMDB 0.9.24, 64-bit, little-endian): every page starts with a 16-byte header (page
/// number, pad, flags, lower and upper free-space bounds or an overflow page count). Pages 0 and 1 are
/// meta pages (flag `P_META`) whose body holds the magic `0xBEEFC0DE`, the format version 1, the map
/// size, the free-page and main databases' records, the last page in use and the transaction id;
/// LMDB uses the one with the larger transaction id. LMDB 0.9 keeps no checksums in its pages, so
/// the checks are of consistency: magic, version, page numbers, sizes and bounds.
struct LMDBDataFile {
    /// The `data.mdb` path.
    let path: String
    /// The file's size in bytes.
    let size: Int
    /// The database page size the first meta page records.
    let pageSize: Int
    /// Both meta pages, in page order.
    let metas: [Meta]
    private let descriptor: Int32

    static let pageHeaderSize = 16
    static let magic: UInt32 = 0xBEEF_C0DE
    static let dataVersion: UInt32 = 1
    static let invalidPage = UInt64.max

    /// Page flags.
    enum PageFlag {
        static let branch: UInt16 = 0x01, leaf: UInt16 = 0x02, overflow: UInt16 = 0x04, meta: UInt16 = 0x08
        static let leaf2: UInt16 = 0x20, subPage: UInt16 = 0x40
    }

    /// A database record (`MDB_db`) as it is stored in a meta page or a main-database leaf.
    struct Record: Equatable {
        static let byteCount = 48
        var flags: UInt16
        var depth: UInt16
        var branchPages: UInt64
        var leafPages: UInt64
        var overflowPages: UInt64
        var entries: UInt64
        var root: UInt64

        init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
            flags = bytes.loadLE(UInt16.self, at: offset + 4)
            depth = bytes.loadLE(UInt16.self, at: offset + 6)
            branchPages = bytes.loadLE(UInt64.self, at: offset + 8)
            leafPages = bytes.loadLE(UInt64.self, at: offset + 16)
            overflowPages = bytes.loadLE(UInt64.self, at: offset + 24)
            entries = bytes.loadLE(UInt64.self, at: offset + 32)
            root = bytes.loadLE(UInt64.self, at: offset + 40)
        }
    }

    /// One meta page's body.
    struct Meta {
        var page: Int
        var magic: UInt32
        var version: UInt32
        var pageSize: Int
        var mapSize: UInt64
        var free: Record
        var main: Record
        var lastPage: UInt64
        var transaction: UInt64
    }

    /// Opens `path` (a regular file) and reads its meta pages. Throws `CacheError.damaged` when the file
    /// is too short for them or they are not LMDB meta pages, and `CacheError.io` when it cannot be read.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw CacheError.io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CacheError.io(path: path, reason: "cannot stat: \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw CacheError.io(path: path, reason: "not a regular file")
        }
        descriptor = fd
        size = Int(info.st_size)
        let headerBytes = LMDBDataFile.pageHeaderSize + 136
        var first = [UInt8](repeating: 0, count: headerBytes)
        do {
            guard try LMDBDataFile.read(fd, into: &first, at: 0) == headerBytes else {
                throw CacheError.damaged(path: path, reason: "data.mdb has \(size) bytes, too few for LMDB's first meta page")
            }
            let zero = try LMDBDataFile.meta(first, page: 0, path: path)
            pageSize = zero.pageSize
            guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
                throw CacheError.damaged(path: path, reason: "meta page 0 records a page size of \(pageSize) bytes (LMDB uses a power of two from 512 to 65536)")
            }
            var second = [UInt8](repeating: 0, count: headerBytes)
            guard try LMDBDataFile.read(fd, into: &second, at: pageSize) == headerBytes else {
                throw CacheError.damaged(path: path, reason: "data.mdb has \(size) bytes, too few for LMDB's second meta page at byte \(pageSize)")
            }
            metas = [zero, try LMDBDataFile.meta(second, page: 1, path: path)]
        } catch {
            close(fd)
            throw error
        }
    }

    /// Closes the file.
    func closeFile() { close(descriptor) }

    /// The meta page LMDB reads: the one with the larger transaction id.
    var current: Meta { metas[1].transaction > metas[0].transaction ? metas[1] : metas[0] }

    /// The meta page of transaction `id`, or nil when neither page holds it.
    func meta(transaction id: UInt64) -> Meta? { metas.first { $0.transaction == id } }

    /// Throws `CacheError.damaged` unless `meta`'s pages and roots lie inside the file.
    func checkBounds(of meta: Meta) throws {
        let needed = (meta.lastPage &+ 1).multipliedReportingOverflow(by: UInt64(pageSize))
        guard meta.lastPage < UInt64(Int.max) / UInt64(pageSize), !needed.overflow else {
            throw CacheError.damaged(path: path, reason: "meta page \(meta.page) records last page \(meta.lastPage), beyond any file size")
        }
        if Int(needed.partialValue) > size {
            let missing = Int(needed.partialValue) - size
            throw CacheError.damaged(path: path, reason: "data.mdb has \(size) bytes but its meta page (transaction \(meta.transaction)) uses pages up to \(meta.lastPage), which need \(needed.partialValue) bytes: the file is truncated by \(missing) bytes (an interrupted copy or a full disk?)")
        }
        for (name, record) in [("free-page", meta.free), ("main", meta.main)]
        where record.root != LMDBDataFile.invalidPage && (record.root < 2 || record.root > meta.lastPage) {
            throw CacheError.damaged(path: path, reason: "meta page \(meta.page) puts the \(name) database's root at page \(record.root), outside pages 2...\(meta.lastPage)")
        }
    }

    /// Reads page `number` into `buffer` (resized to the page size); false when the file ends before it.
    func readPage(_ number: UInt64, into buffer: inout [UInt8]) throws -> Bool {
        if buffer.count != pageSize { buffer = [UInt8](repeating: 0, count: pageSize) }
        guard number <= UInt64(Int.max / pageSize) else { return false }
        return try LMDBDataFile.read(descriptor, into: &buffer, at: Int(number) * pageSize) == pageSize
    }

    /// Reads `count` bytes at `offset`; fewer when the file ends first.
    func readBytes(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try LMDBDataFile.read(descriptor, into: &bytes, at: offset)
        return Array(bytes.prefix(got))
    }

    private static func read(_ fd: Int32, into buffer: inout [UInt8], at offset: Int) throws -> Int {
        let wanted = buffer.count
        return try buffer.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            var done = 0
            while done < wanted {
                let n = pread(fd, base + done, wanted - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CacheError.io(path: "data.mdb", reason: "read at byte \(offset + done) failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
    }

    private static func meta(_ bytes: [UInt8], page: Int, path: String) throws -> Meta {
        try bytes.withUnsafeBytes { raw in
            let number = raw.loadLE(UInt64.self, at: 0)
            let flags = raw.loadLE(UInt16.self, at: 10)
            let body = LMDBDataFile.pageHeaderSize
            let magic = raw.loadLE(UInt32.self, at: body)
            let version = raw.loadLE(UInt32.self, at: body + 4)
            guard flags & PageFlag.meta != 0, magic == LMDBDataFile.magic else {
                throw CacheError.damaged(path: path, reason: String(format: "page %d is not an LMDB meta page (flags 0x%04x, magic 0x%08x, expected 0x%08x): not an LMDB file, or its start is overwritten", page, flags, magic, LMDBDataFile.magic))
            }
            guard version == LMDBDataFile.dataVersion else {
                throw CacheError.damaged(path: path, reason: "meta page \(page) records LMDB data format version \(version); LMDB 0.9 writes version \(LMDBDataFile.dataVersion)")
            }
            guard number == UInt64(page) else {
                throw CacheError.damaged(path: path, reason: "meta page \(page) carries page number \(number)")
            }
            return Meta(page: page, magic: magic, version: version,
                        pageSize: Int(raw.loadLE(UInt32.self, at: body + 24)),
                        mapSize: raw.loadLE(UInt64.self, at: body + 16),
                        free: Record(raw, at: body + 24), main: Record(raw, at: body + 72),
                        lastPage: raw.loadLE(UInt64.self, at: body + 120),
                        transaction: raw.loadLE(UInt64.self, at: body + 128))
        }
    }

    /// Checks the `data.mdb` of an environment directory before LMDB maps it: a missing or empty file
    /// passes (LMDB creates it); anything else must have two valid meta pages whose current one's pages
    /// lie inside the file.
    static func checkBeforeOpening(directory: String) throws {
        let file = (directory as NSString).appendingPathComponent("data.mdb")
        var info = stat()
        guard stat(file, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CacheError.io(path: file, reason: "not a regular file")
        }
        guard info.st_size > 0 else { return }
        let data = try LMDBDataFile(path: file)
        defer { data.closeFile() }
        try data.checkBounds(of: data.current)
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at `offset` (no alignment needed).
    @inline(__always)
    func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
