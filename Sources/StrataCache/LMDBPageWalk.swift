import Foundation

/// Walks every B-tree of an LMDB data file page by page with `pread` (see `LMDBDataFile`), the way
/// LMDB would descend them, but checking each step: page numbers inside the file and used once, page
/// types by depth, node offsets and key and value sizes inside their page, keys in strictly increasing
/// order and inside the bounds their parents give, overflow runs, and each database's page and entry
/// counts against its record. Free pages are counted too, and every page must be in a tree, free, or a
/// meta page. Damage becomes a list of problems, never a crash.
struct LMDBPageWalk {
    /// The table name used in problems about the main database (which lists the named tables).
    static let mainTable = "<lmdb main>"
    /// The table name used in problems about LMDB's free-page database.
    static let freeTable = "<lmdb free pages>"

    private let file: LMDBDataFile
    private let meta: LMDBDataFile.Meta
    private let limit: Int
    private var visited: [UInt64]
    private var page = [UInt8]()
    private(set) var problems: [CacheProblem] = []
    private var problemCount = 0

    private static let nodeHeader = 8
    private static let bigData: UInt16 = 0x01, subData: UInt16 = 0x02, duplicateData: UInt16 = 0x04
    private static let integerKeys: UInt16 = 0x08, duplicateSort: UInt16 = 0x04

    /// Walks the snapshot of transaction `transaction` (the newest meta page when nil) of the
    /// `data.mdb` in `directory`; returns at most `limit` problems.
    static func check(directory: String, transaction: UInt64? = nil, limit: Int = 1000) throws -> [CacheProblem] {
        let path = (directory as NSString).appendingPathComponent("data.mdb")
        let file: LMDBDataFile
        do {
            file = try LMDBDataFile(path: path)
        } catch let CacheError.damaged(_, reason) {
            return [CacheProblem(table: "data.mdb", id: nil, message: reason)]
        }
        defer { file.closeFile() }
        let meta = transaction.flatMap { file.meta(transaction: $0) } ?? file.current
        do {
            try file.checkBounds(of: meta)
        } catch let CacheError.damaged(_, reason) {
            return [CacheProblem(table: "data.mdb", id: nil, message: reason)]
        }
        var walk = LMDBPageWalk(file: file, meta: meta, limit: limit)
        try walk.run()
        return walk.problems
    }

    private init(file: LMDBDataFile, meta: LMDBDataFile.Meta, limit: Int) {
        self.file = file
        self.meta = meta
        self.limit = limit
        visited = [UInt64](repeating: 0, count: Int(meta.lastPage / 64) + 1)
        visited[0] |= 0b11  // the meta pages
    }

    private mutating func report(_ table: String, _ message: String) {
        problemCount += 1
        if problems.count < limit { problems.append(CacheProblem(table: table, id: nil, message: message)) }
    }

    private mutating func run() throws {
        var freePages = 0
        try walkTree(LMDBPageWalk.freeTable, meta.free, readValues: true) { walk, key, value in
            guard let value, value.count >= 8 else {
                walk.report(LMDBPageWalk.freeTable, "entry of \(value?.count ?? 0) bytes, too short for a page list")
                return
            }
            let count = value.withUnsafeBytes { $0.loadLE(UInt64.self, at: 0) }
            guard count <= UInt64((value.count - 8) / 8) else {
                walk.report(LMDBPageWalk.freeTable, "page list of \(value.count) bytes claims \(count) pages")
                return
            }
            value.withUnsafeBytes { raw in
                for index in 0..<Int(count) {
                    let number = raw.loadLE(UInt64.self, at: 8 + 8 * index)
                    if walk.claim(number, LMDBPageWalk.freeTable, as: "a free page") { freePages += 1 }
                }
            }
        }
        var named: [(String, LMDBDataFile.Record)] = []
        try walkTree(LMDBPageWalk.mainTable, meta.main, readValues: true) { walk, key, value in
            let name = String(decoding: key, as: UTF8.self)
            guard let value, value.count == LMDBDataFile.Record.byteCount else {
                walk.report(LMDBPageWalk.mainTable, "table '\(name)' has a record of \(value?.count ?? 0) bytes, expected \(LMDBDataFile.Record.byteCount)")
                return
            }
            named.append((name, value.withUnsafeBytes { LMDBDataFile.Record($0, at: 0) }))
        }
        for (name, record) in named {
            if record.flags & LMDBPageWalk.duplicateSort != 0 {
                report(name, String(format: "flags 0x%04x ask for duplicate keys, which Strata caches never use", record.flags))
                continue
            }
            try walkTree(name, record, readValues: false) { _, _, _ in }
        }
        let used = visited.reduce(0) { $0 + $1.nonzeroBitCount }
        let total = Int(meta.lastPage) + 1
        if problemCount == 0, used != total {
            report("data.mdb", "\(total - used) of \(total) pages are in no table and not free (\(freePages) free)")
        }
    }

    /// Marks page `number` as used by `table`; false (and a problem) when it is out of range or taken.
    private mutating func claim(_ number: UInt64, _ table: String, as role: String) -> Bool {
        guard number >= 2, number <= meta.lastPage else {
            report(table, "\(role) at page \(number), outside pages 2...\(meta.lastPage)")
            return false
        }
        let word = Int(number / 64), bit = UInt64(1) << (number % 64)
        if visited[word] & bit != 0 {
            report(table, "\(role) at page \(number), a page already used elsewhere")
            return false
        }
        visited[word] |= bit
        return true
    }

    private struct Tally {
        var branch: UInt64 = 0, leaf: UInt64 = 0, overflow: UInt64 = 0, entries: UInt64 = 0
    }

    /// Walks one database in key order, calling `leaf` for every entry (with its value when
    /// `readValues`, or nil for a value on overflow pages when not).
    private mutating func walkTree(_ table: String, _ record: LMDBDataFile.Record, readValues: Bool,
                                   _ leaf: (inout LMDBPageWalk, [UInt8], [UInt8]?) throws -> Void) throws {
        var tally = Tally()
        var previous: [UInt8]?
        let integerKeys = record.flags & LMDBPageWalk.integerKeys != 0
        if record.root == LMDBDataFile.invalidPage {
            if record.entries != 0 || record.depth != 0 { report(table, "no root page but \(record.entries) entries, depth \(record.depth)") }
            return
        }
        guard record.depth >= 1, record.depth <= 32 else {
            report(table, "depth \(record.depth) recorded for a tree with root page \(record.root)")
            return
        }
        let before = problemCount
        try descend(table, record.root, level: 1, depth: Int(record.depth), low: nil, high: nil,
                    integerKeys: integerKeys, readValues: readValues, tally: &tally, previous: &previous, leaf: leaf)
        guard problemCount == before else { return }
        let recorded = (record.branchPages, record.leafPages, record.overflowPages, record.entries)
        let found = (tally.branch, tally.leaf, tally.overflow, tally.entries)
        if recorded != found {
            report(table, "the record counts \(record.branchPages) branch, \(record.leafPages) leaf, \(record.overflowPages) overflow pages and \(record.entries) entries; the tree has \(tally.branch), \(tally.leaf), \(tally.overflow) and \(tally.entries)")
        }
    }

    private func precedes(_ a: [UInt8], _ b: [UInt8], integerKeys: Bool) -> Bool {
        if integerKeys, a.count == 8, b.count == 8 {
            let x = a.withUnsafeBytes { $0.loadLE(UInt64.self, at: 0) }
            let y = b.withUnsafeBytes { $0.loadLE(UInt64.self, at: 0) }
            return x < y
        }
        return a.lexicographicallyPrecedes(b)
    }

    /// Where `key` falls outside `low..<high` ("below the start", "at or past the end"), or nil inside.
    private func outside(_ key: [UInt8], _ low: [UInt8]?, _ high: [UInt8]?, integerKeys: Bool) -> String? {
        if let low, precedes(key, low, integerKeys: integerKeys) { return "below the start" }
        if let high, !precedes(key, high, integerKeys: integerKeys) { return "at or past the end" }
        return nil
    }

    private mutating func descend(_ table: String, _ number: UInt64, level: Int, depth: Int, low: [UInt8]?, high: [UInt8]?,
                                  integerKeys: Bool, readValues: Bool, tally: inout Tally, previous: inout [UInt8]?,
                                  leaf: (inout LMDBPageWalk, [UInt8], [UInt8]?) throws -> Void) throws {
        guard problems.count < limit else { return }
        let role = level == depth ? "leaf" : "branch"
        guard claim(number, table, as: "\(role) page") else { return }
        guard try file.readPage(number, into: &page) else {
            report(table, "page \(number) lies past the end of the file")
            return
        }
        let pageSize = file.pageSize
        let header = page.withUnsafeBytes { raw in
            (number: raw.loadLE(UInt64.self, at: 0), flags: raw.loadLE(UInt16.self, at: 10),
             lower: Int(raw.loadLE(UInt16.self, at: 12)), upper: Int(raw.loadLE(UInt16.self, at: 14)))
        }
        let expected = level == depth ? LMDBDataFile.PageFlag.leaf : LMDBDataFile.PageFlag.branch
        let kinds = LMDBDataFile.PageFlag.branch | LMDBDataFile.PageFlag.leaf | LMDBDataFile.PageFlag.overflow
            | LMDBDataFile.PageFlag.meta | LMDBDataFile.PageFlag.leaf2
        guard header.number == number else {
            report(table, "page \(number) carries page number \(header.number)")
            return
        }
        guard header.flags & kinds == expected else {
            report(table, String(format: "page %llu at level %d of %d has flags 0x%04x, expected a %@ page", number, level, depth, header.flags, role))
            return
        }
        let header16 = LMDBDataFile.pageHeaderSize
        guard header.lower >= header16, header.lower <= header.upper, header.upper <= pageSize, (header.lower - header16) % 2 == 0 else {
            report(table, "page \(number) has free-space bounds \(header.lower)...\(header.upper) outside a \(pageSize)-byte page")
            return
        }
        let count = (header.lower - header16) / 2
        if count == 0 || (role == "branch" && count < 2 && level > 1) {
            report(table, "\(role) page \(number) holds \(count) nodes")
            if count == 0 { return }
        }
        if role == "branch" { tally.branch += 1 } else { tally.leaf += 1 }
        // Nodes of this page, copied out so the page buffer can be reused by the children.
        var nodes: [(key: [UInt8], child: UInt64, flags: UInt16, size: Int, data: [UInt8]?)] = []
        let pageCopy = page
        let bad: String? = pageCopy.withUnsafeBytes { raw -> String? in
            for index in 0..<count {
                let offset = Int(raw.loadLE(UInt16.self, at: header16 + 2 * index))
                guard offset >= header.upper, offset + LMDBPageWalk.nodeHeader <= pageSize else {
                    return "node \(index) of page \(number) at byte \(offset), outside \(header.upper)...\(pageSize - LMDBPageWalk.nodeHeader)"
                }
                let lo = UInt64(raw.loadLE(UInt16.self, at: offset)), hi = UInt64(raw.loadLE(UInt16.self, at: offset + 2))
                let flags = raw.loadLE(UInt16.self, at: offset + 4)
                let keySize = Int(raw.loadLE(UInt16.self, at: offset + 6))
                let keyStart = offset + LMDBPageWalk.nodeHeader
                guard keyStart + keySize <= pageSize else {
                    return "node \(index) of page \(number) has a \(keySize)-byte key past the page's end"
                }
                let key = Array(raw[keyStart..<keyStart + keySize])
                if role == "branch" {
                    nodes.append((key, lo | hi << 16 | UInt64(flags) << 32, 0, 0, nil))
                    continue
                }
                let size = Int(lo | hi << 16)
                if flags & LMDBPageWalk.bigData != 0 {
                    guard keyStart + keySize + 8 <= pageSize else {
                        return "node \(index) of page \(number) has its overflow page number past the page's end"
                    }
                    nodes.append((key, raw.loadLE(UInt64.self, at: keyStart + keySize), flags, size, nil))
                } else {
                    guard keyStart + keySize + size <= pageSize else {
                        return "node \(index) of page \(number) has a \(size)-byte value past the page's end"
                    }
                    nodes.append((key, 0, flags, size, Array(raw[keyStart + keySize..<keyStart + keySize + size])))
                }
            }
            return nil
        }
        if let bad {
            report(table, bad)
            return
        }
        for (index, node) in nodes.enumerated() {
            guard problems.count < limit else { return }
            if role == "branch" {
                // The first node's key is empty; the others separate the children.
                let lower = index == 0 ? low : node.key
                let upper = index + 1 < nodes.count ? nodes[index + 1].key : high
                if index > 0 {
                    if let bad = outside(node.key, low, high, integerKeys: integerKeys) {
                        report(table, "branch page \(number): separator \(index) sorts \(bad) of the parent's range")
                        return
                    }
                    if index > 1, !precedes(nodes[index - 1].key, node.key, integerKeys: integerKeys) {
                        report(table, "branch page \(number): separators \(index - 1) and \(index) are out of order")
                        return
                    }
                }
                try descend(table, node.child, level: level + 1, depth: depth, low: lower, high: upper,
                            integerKeys: integerKeys, readValues: readValues, tally: &tally, previous: &previous, leaf: leaf)
                continue
            }
            if let previous, !precedes(previous, node.key, integerKeys: integerKeys) {
                report(table, "leaf page \(number): key \(index) does not sort after the key before it")
                return
            }
            if let bad = outside(node.key, low, high, integerKeys: integerKeys) {
                report(table, "leaf page \(number): key \(index) sorts \(bad) of the range its branch gives")
                return
            }
            previous = node.key
            tally.entries += 1
            if node.flags & LMDBPageWalk.duplicateData != 0 {
                report(table, "leaf page \(number): key \(index) has duplicate values, which Strata caches never use")
                continue
            }
            var value = node.data
            if node.flags & LMDBPageWalk.bigData != 0 {
                guard let pages = try overflow(table, first: node.child, size: node.size) else { continue }
                tally.overflow += UInt64(pages)
                if readValues {
                    let start = Int(node.child) * pageSize + LMDBDataFile.pageHeaderSize
                    value = try file.readBytes(count: node.size, at: start)
                }
            }
            try leaf(&self, node.key, value)
        }
    }

    /// Checks and claims the overflow run of a `size`-byte value starting at `first`; its page count.
    private mutating func overflow(_ table: String, first: UInt64, size: Int) throws -> Int? {
        let pageSize = file.pageSize
        let pages = (LMDBDataFile.pageHeaderSize - 1 + size) / pageSize + 1
        guard first >= 2, first <= meta.lastPage, UInt64(pages - 1) <= meta.lastPage - first else {
            report(table, "a \(size)-byte value on overflow pages \(first)..+\(pages), outside pages 2...\(meta.lastPage)")
            return nil
        }
        guard try file.readPage(first, into: &page) else {
            report(table, "overflow page \(first) lies past the end of the file")
            return nil
        }
        let (number, flags, count) = page.withUnsafeBytes { raw in
            (raw.loadLE(UInt64.self, at: 0), raw.loadLE(UInt16.self, at: 10), Int(raw.loadLE(UInt32.self, at: 12)))
        }
        guard number == first, flags & LMDBDataFile.PageFlag.overflow != 0, count == pages else {
            report(table, String(format: "overflow page %llu has page number %llu, flags 0x%04x and a run of %d pages; the %d-byte value needs %d", first, number, flags, count, size, pages))
            return nil
        }
        for offset in 0..<UInt64(pages) where !claim(first + offset, table, as: "overflow page") { return nil }
        return pages
    }
}
